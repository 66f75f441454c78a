"""The vLLM judge backend: one in-process ``vllm.LLM`` engine, batched constrained verdicts.

Every ``generate`` sends all verdicts to the engine in ONE ``LLM.generate`` call. When requests ask
for a free-text rationale first, all of them go to the engine in one run that queues each verdict
the moment its reasoning ends. The verdict
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

CPU_BLOCK_SIZE = 32
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
    if current_platform.is_cpu():
        # vLLM's CPU default is 128-token KV blocks and prefix caching reuses only whole blocks, so the
        # system prompt every judge prompt shares (~70 tokens) and most of what an item's two orders share
        # were prefilled again; 32 is the smallest block the CPU attention backend takes. It changes which
        # tokens are computed, not the verdicts, so it stays out of the fingerprint (bench/prefix_orders.py).
        kwargs["block_size"] = CPU_BLOCK_SIZE
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
        """Answer all requests in order, all in one engine run (verdicts in one ``LLM.generate``)."""
        if self.llm is None:
            raise RuntimeError("the vLLM backend is closed")
        outputs = [JudgeOutput(text="") for _ in requests]
        for output, request in zip(outputs, requests):
            if not request.choices and request.json_schema is None:
                output.error = "the vllm backend needs choices (labels) or a JSON schema for a verdict"
        todo = [i for i in range(len(requests)) if outputs[i].error is None]
        if any(requests[i].rationale_tokens > 0 for i in todo):
            self._reason_then_verdict(requests, todo, outputs)
            return outputs
        jobs = [(i, self._verdict_messages(requests[i], outputs[i]), self._verdict_params(requests[i])) for i in todo]
        for index, completion in self._run(jobs, outputs).items():
            self._set_verdict(outputs[index], completion)
        return outputs

    def _set_verdict(self, output: JudgeOutput, completion: Any) -> None:
        output.text = completion.text
        output.verdict_top_logprobs = self._first_step_logprobs(completion)
        output.extra["finish_reason"] = completion.finish_reason

    def _reason_then_verdict(self, requests: Sequence[JudgeRequest], todo: list[int],
                             outputs: list[JudgeOutput]) -> None:
        """Rationale mode in ONE engine run: a request's verdict is queued the moment its reasoning ends.

        So the verdicts' prefill shares engine steps with the other requests' reasoning (as continuous
        batching does for a server's concurrent clients), instead of waiting for the longest reasoning.
        Requests without a rationale queue their verdict at once.
        """
        pending: dict[str, tuple[int, str, str]] = {}  # external request id -> (index, kind, internal id)
        first = [(i, "rationale" if requests[i].rationale_tokens > 0 else "verdict") for i in todo]
        engine = self.llm.llm_engine
        start, ran = time.perf_counter(), set()
        try:
            self._enqueue(first, requests, outputs, pending)
            while engine.has_unfinished_requests():
                for result in engine.step():
                    if not result.finished or result.request_id not in pending:
                        continue
                    index, kind, _ = pending.pop(result.request_id)
                    ran.add(index)
                    self._count(outputs[index], result)
                    completion = result.outputs[0]
                    if kind == "verdict":
                        self._set_verdict(outputs[index], completion)
                        continue
                    outputs[index].rationale = completion.text.strip()
                    self._enqueue([(index, "verdict")], requests, outputs, pending)
        except BaseException:
            if pending:  # nothing of this call may stay queued for the next one
                engine.abort_request([internal for _, _, internal in pending.values()], internal=True)
            raise
        share_ms = (time.perf_counter() - start) * 1000.0 / max(len(ran), 1)
        for index in ran:
            outputs[index].latency_ms += share_ms

    def _enqueue(self, jobs: list[tuple[int, str]], requests: Sequence[JudgeRequest], outputs: list[JudgeOutput],
                 pending: dict[str, tuple[int, str, str]]) -> None:
        """Render, length-check and queue (request index, "rationale" | "verdict") jobs on the engine."""
        prompts, params, kept = [], [], []
        for index, kind in jobs:
            request = requests[index]
            if kind == "rationale":
                messages, sampling = list(request.messages), self._rationale_params(request)
            else:
                messages, sampling = self._verdict_messages(request, outputs[index]), self._verdict_params(request)
            ids = self._fitting_prompt(messages, sampling, outputs[index])
            if ids is not None:
                prompts.append({"prompt_token_ids": ids})
                params.append(sampling)
                kept.append((index, kind))
        if kept:
            # enqueue returns vLLM's internal ids ("<external>-<8 random chars>"); results carry the external one
            for internal, (index, kind) in zip(self.llm.enqueue(prompts, params, use_tqdm=False), kept):
                pending[internal.split("-", 1)[0]] = (index, kind, internal)

    def _rationale_params(self, request: JudgeRequest) -> Any:
        """Sampling parameters of the free-text reasoning before a verdict."""
        from vllm import SamplingParams

        return SamplingParams(max_tokens=request.rationale_tokens, temperature=request.temperature,
                              seed=request.seed, **self.sampling)

    def close(self) -> None:
        """Shut the engine-core process down (idempotent)."""
        llm, self.llm = getattr(self, "llm", None), None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

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
            ids = self._fitting_prompt(messages, sampling, outputs[index])
            if ids is None:
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
            self._count(outputs[index], result)
            outputs[index].latency_ms += share_ms
            done[index] = result.outputs[0]
        return done

    def _fitting_prompt(self, messages: list[dict[str, str]], sampling: Any, output: JudgeOutput) -> list[int] | None:
        """The prompt's token ids, or None with ``output.error`` set when it does not fit the model."""
        ids = self._render(messages)
        if len(ids) + sampling.max_tokens > self.max_model_len:
            output.error = (
                f"prompt too long: {len(ids)} prompt tokens + {sampling.max_tokens} to generate "
                f"exceed max_model_len {self.max_model_len}"
            )
            return None
        return ids

    @staticmethod
    def _count(output: JudgeOutput, result: Any) -> None:
        """Add one engine result's prompt and completion tokens to the judge call's output."""
        output.prompt_tokens += len(result.prompt_token_ids or ())
        output.completion_tokens += len(result.outputs[0].token_ids)

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
