"""The vLLM backend on the real CPU engine with the bundled model (pipeline, not judge quality)."""

from __future__ import annotations

import importlib.util
import math
import os
import time
from pathlib import Path

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


def test_rationale_mode_reasons_then_gives_a_constrained_verdict(backend, engine_calls, monkeypatch):
    queued: list[int] = []
    real_enqueue = backend.llm.enqueue

    def spy(prompts, params, **kwargs):
        queued.append(len(prompts))
        return real_enqueue(prompts, params, **kwargs)

    monkeypatch.setattr(backend.llm, "enqueue", spy)
    requests = [
        pairwise(*PAIRS[0], rationale_tokens=24, verdict_followup=FOLLOWUP, seed=1),
        pairwise(*PAIRS[1]),  # no rationale: shares the verdict call
        pairwise(*PAIRS[2], rationale_tokens=24, verdict_followup=FOLLOWUP, seed=2),
    ]
    outputs = backend.generate(requests)
    # one engine run: the reasoning and the plain verdict queued at once, each reasoned verdict when its reasoning ends
    assert engine_calls == []
    assert queued == [3, 1, 1]
    assert not backend.llm.llm_engine.has_unfinished_requests()
    for output in outputs:
        assert_valid_verdict(output)
    assert outputs[1].rationale is None
    for output in (outputs[0], outputs[2]):
        assert isinstance(output.rationale, str) and output.rationale
        assert output.completion_tokens >= 2  # rationale tokens + verdict tokens


def test_a_failed_rationale_run_leaves_nothing_queued_for_the_next_call(backend, monkeypatch):
    engine = backend.llm.llm_engine
    real_step, steps = engine.step, []

    def failing_step():
        steps.append(1)
        if len(steps) == 3:
            raise RuntimeError("engine step failed")
        return real_step()

    monkeypatch.setattr(engine, "step", failing_step)
    with pytest.raises(RuntimeError, match="engine step failed"):
        backend.generate([pairwise(*PAIRS[0], rationale_tokens=24, verdict_followup=FOLLOWUP, seed=1)])
    monkeypatch.setattr(engine, "step", real_step)
    assert not engine.has_unfinished_requests()
    assert_valid_verdict(backend.generate([pairwise(*PAIRS[3])])[0])


def test_fingerprint_and_engine_defaults(backend):
    from workers.backends.vllm_engine import engine_kwargs

    judge = JudgeConfig(name="t", backend="vllm", model=BUNDLED_MODEL, engine=ENGINE)
    assert backend.fingerprint == judge.fingerprint()
    assert backend.max_model_len == 2048
    kwargs = engine_kwargs(JudgeConfig(name="d", sampling={"seed": 7}, engine={"dtype": "float32"}), "/m")
    assert kwargs == {"model": "/m", "dtype": "float32", "enforce_eager": True, "enable_prefix_caching": True,
                      "seed": 7, "kv_cache_memory_bytes": 2 << 30, "block_size": 32}
    assert engine_kwargs(JudgeConfig(name="b", engine={"block_size": 64}), "/m")["block_size"] == 64


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _model_process(pid: int) -> tuple[dict[str, str], set[int]] | None:
    """(environment, cores its threads may run on) of a process vLLM started with an OpenMP binding."""
    try:
        environ = dict(e.split("=", 1) for e in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in e)
        if "OMP_NUM_THREADS" not in environ:
            return None
        cores: set[int] = set()
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            allowed = next(line for line in status.read_text().splitlines() if line.startswith("Cpus_allowed_list:"))
            for part in allowed.split(":", 1)[1].strip().split(","):
                low, _, high = part.partition("-")
                cores.update(range(int(low), int(high or low) + 1))
    except (OSError, StopIteration):
        return None
    return environ, cores


def test_the_in_process_engine_binds_its_model_to_every_core(backend):
    """vLLM's default keeps one core for an API front end an in-process engine does not have."""
    from vllm.utils import cpu_resource_utils as cpus

    node = cpus.get_visible_memory_node()[0]
    per_core: dict[int, int] = {}
    for cpu in cpus.get_allowed_cpu_list():
        if cpu.numa_node == node:
            per_core[cpu.physical_core] = max(per_core.get(cpu.physical_core, -1), cpu.id)
    found = [model for pid in _descendants(os.getpid()) if (model := _model_process(pid)) is not None]
    assert found, "no engine process with vLLM's OpenMP binding found"
    environ, cores = found[0]
    # one OpenMP thread per selected core, the threads pinned across all of them (vLLM's default: 1 thread, core 0)
    assert environ["OMP_NUM_THREADS"] == str(len(per_core))
    assert cores == set(per_core.values())
