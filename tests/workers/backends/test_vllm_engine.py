"""The vLLM backend on the real CPU engine with the bundled model (pipeline, not judge quality)."""

from __future__ import annotations

import importlib.util
import math
import time

import pytest

from service.config import BUNDLED_MODEL, JudgeConfig, Settings
from service.core.judging import JudgeRequest
from service.core.probabilities import label_probs_from_top_logprobs

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM (judgeserve[cpu])"),
]
LABELS = ("1", "2", "tie")
ENGINE = {"dtype": "bfloat16", "kv_cache_memory_bytes": 1 << 30, "enforce_eager": True, "max_model_len": 2048}
SYSTEM = "You are an impartial judge. Compare two responses to the user's request."
FOLLOWUP = 'Which response is better? Answer "1", "2" or "tie".'


def pairwise(question: str, first: str, second: str, **options) -> JudgeRequest:
    """A pairwise-style judge request over the three labels."""
    prompt = f"[Request]\n{question}\n\n[Response 1]\n{first}\n\n[Response 2]\n{second}\n\n{FOLLOWUP}"
    messages = ({"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt})
    return JudgeRequest(messages=messages, choices=LABELS, **options)


PAIRS = [
    ("What is the capital of France?", "Paris.", "Lyon."),
    ("Add 2 and 3.", "5", "The sum of two and three is six."),
    ("Name a primary colour.", "Red is a primary colour in the RYB model, along with yellow and blue.", "Green"),
    ("Say hello in Spanish.", "Hola", "Bonjour"),
]


@pytest.fixture(scope="module")
def backend(bundled_model_cache):
    """ONE engine for the whole module (building it takes about a minute on 2 CPU cores)."""
    from workers.backends.vllm_engine import VLLMBackend

    judge = JudgeConfig(name="t", backend="vllm", model=BUNDLED_MODEL, engine=ENGINE)
    start = time.perf_counter()
    built = VLLMBackend(judge, Settings(model_cache_dir=bundled_model_cache))
    print(f"\nvLLM engine built in {time.perf_counter() - start:.1f} s")
    yield built
    built.close()
    built.close()  # idempotent


@pytest.fixture
def engine_calls(backend, monkeypatch) -> list[int]:
    """Spy on LLM.generate: the number of prompts in each engine call."""
    calls: list[int] = []
    real_generate = backend.llm.generate

    def spy(prompts, params, **kwargs):
        calls.append(len(prompts))
        assert isinstance(params, list) and len(params) == len(prompts)  # per-request sampling params
        return real_generate(prompts, params, **kwargs)

    monkeypatch.setattr(backend.llm, "generate", spy)
    return calls


def assert_valid_verdict(output) -> None:
    assert output.error is None and output.text in LABELS
    assert output.verdict_top_logprobs and all(math.isfinite(v) for v in output.verdict_top_logprobs.values())
    probs = label_probs_from_top_logprobs(output.verdict_top_logprobs, LABELS)
    assert probs is not None and set(probs) == set(LABELS)
    assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-9)
    assert output.prompt_tokens > 0 and output.completion_tokens >= 1 and output.latency_ms > 0


def test_batch_returns_one_valid_verdict_per_request_in_order(backend, engine_calls):
    requests = [pairwise(*pair, seed=i) for i, pair in enumerate(PAIRS + [(b, c, a) for a, b, c in PAIRS])]
    start = time.perf_counter()
    outputs = backend.generate(requests)
    print(f"\n{len(requests)} verdicts in {time.perf_counter() - start:.1f} s")
    assert engine_calls == [len(requests)]  # one engine call for the whole batch
    assert len(outputs) == len(requests)
    for request, output in zip(requests, outputs):
        assert_valid_verdict(output)
        # prompts differ in length: the token counts show each output belongs to its request
        assert output.prompt_tokens == len(backend._render(list(request.messages)))
    # grammar-masked logprobs: what is listed is (nearly) all the mass of the allowed tokens
    mass = sum(math.exp(v) for v in outputs[0].verdict_top_logprobs.values())
    assert 0.99 < mass < 1.01


def test_same_seed_gives_the_same_sampled_output(backend, engine_calls):
    requests = [pairwise(*PAIRS[0], temperature=1.0, seed=1234), pairwise(*PAIRS[1], temperature=1.0, seed=99)]
    first = backend.generate(requests)
    second = backend.generate(requests)
    assert engine_calls == [2, 2]
    for a, b in zip(first, second):
        assert_valid_verdict(a)
        assert a.text == b.text
        assert a.verdict_top_logprobs.keys() == b.verdict_top_logprobs.keys()


def test_too_long_prompt_is_an_error_output_and_the_others_succeed(backend, engine_calls):
    too_long = pairwise("Summarise this. " + "word " * 3000, "A summary.", "Another summary.")
    outputs = backend.generate([pairwise(*PAIRS[0]), too_long, pairwise(*PAIRS[3])])
    assert engine_calls == [2]
    assert_valid_verdict(outputs[0])
    assert_valid_verdict(outputs[2])
    assert outputs[1].text == "" and "max_model_len 2048" in outputs[1].error


def test_rationale_mode_reasons_then_gives_a_constrained_verdict(backend, engine_calls):
    requests = [
        pairwise(*PAIRS[0], rationale_tokens=24, verdict_followup=FOLLOWUP, seed=1),
        pairwise(*PAIRS[1]),  # no rationale: shares the verdict call
        pairwise(*PAIRS[2], rationale_tokens=24, verdict_followup=FOLLOWUP, seed=2),
    ]
    outputs = backend.generate(requests)
    assert engine_calls == [2, 3]  # one call for both rationales, one for all verdicts
    for output in outputs:
        assert_valid_verdict(output)
    assert outputs[1].rationale is None
    for output in (outputs[0], outputs[2]):
        assert isinstance(output.rationale, str) and output.rationale
        assert output.completion_tokens >= 2  # rationale tokens + verdict tokens


def test_fingerprint_and_engine_defaults(backend):
    from workers.backends.vllm_engine import engine_kwargs

    judge = JudgeConfig(name="t", backend="vllm", model=BUNDLED_MODEL, engine=ENGINE)
    assert backend.fingerprint == judge.fingerprint()
    assert backend.max_model_len == 2048
    kwargs = engine_kwargs(JudgeConfig(name="d", sampling={"seed": 7}, engine={"dtype": "float32"}), "/m")
    assert kwargs == {"model": "/m", "dtype": "float32", "enforce_eager": True, "enable_prefix_caching": True,
                      "seed": 7, "kv_cache_memory_bytes": 2 << 30}
