"""bench/overhead.py, side (a): bare ``vllm.LLM.generate`` on the worker's own ``VLLMBackend``, in a
child process (``bench/overhead.py --bare-child OUT``), so its engine is gone before (b) starts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.vllm_common import (child_env, cpu_share, cpu_snapshot, item_set, plan_requests,
                               run_json_child, wait_for_memory, warmup_items)

OVERHEAD_SCRIPT = Path(__file__).resolve().parent / "overhead.py"


def render(backend, requests: list) -> tuple[list, list]:
    """Token-id prompts and sampling params exactly as ``VLLMBackend._run`` builds them."""
    prompts, params = [], []
    for request in requests:
        sampling = backend._verdict_params(request)
        ids = backend._render(list(request.messages))
        if len(ids) + sampling.max_tokens > backend.max_model_len:
            raise RuntimeError("a prompt exceeds max_model_len: the worker would skip it; pick other items")
        prompts.append({"prompt_token_ids": ids})
        params.append(sampling)
    return prompts, params


def timed_generate(backend, prompts: list, params: list) -> tuple[float, list, dict]:
    """One cold-prefix ``llm.generate`` over all prompts: (seconds, outputs, CPU shares meanwhile)."""
    if not backend.llm.reset_prefix_cache():
        raise RuntimeError("vLLM refused to reset the prefix cache")
    cpu0, start = cpu_snapshot([os.getpid()]), time.perf_counter()
    outputs = backend.llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    return seconds, outputs, cpu_share(cpu0, cpu_snapshot([os.getpid()]), seconds)


def measure_bare(backend, n: int, rounds: int, full: bool, verdict_mode: str = "logprobs") -> dict:
    """Warm up on other items; then per item set: bare generate (and, if ``full``, the backend's generate).

    ``verdict_mode="rationale"``: the timed call is the backend's own two-phase ``generate`` (all reasoning
    in one ``LLM.generate``, then all verdicts in one more), as the worker makes it.
    """
    if verdict_mode == "rationale":
        return {"rounds": [_measure_rationale(backend, index, n) for index in range(rounds)]}
    warm_prompts, warm_params = render(backend, [r for _, _, r in plan_requests(warmup_items())])
    backend.llm.generate(warm_prompts, warm_params, use_tqdm=False)
    results = [_timed_set(backend, plan_requests(item_set(index, n)), full) for index in range(rounds)]
    return {"rounds": results}


def _measure_rationale(backend, index: int, n: int) -> dict:
    """One cold-prefix ``backend.generate`` of set ``index`` with reasoning (after a warm-up on other items)."""
    backend.generate([r for _, _, r in plan_requests(warmup_items(), verdict_mode="rationale")])
    planned = plan_requests(item_set(index, n), verdict_mode="rationale")
    requests = [r for _, _, r in planned]
    if not backend.llm.reset_prefix_cache():
        raise RuntimeError("vLLM refused to reset the prefix cache")
    cpu0, start = cpu_snapshot([os.getpid()]), time.perf_counter()
    outputs = backend.generate(requests)
    seconds = time.perf_counter() - start
    return {
        "calls": len(requests), "render_s": 0.0, "bare_s": seconds, "backend_s": seconds,
        "cpu": cpu_share(cpu0, cpu_snapshot([os.getpid()]), seconds),
        "prompt_tokens": sum(out.prompt_tokens for out in outputs),
        "completion_tokens": sum(out.completion_tokens for out in outputs),
        "labels": {f"{i}/{o}": out.text for (i, o, _), out in zip(planned, outputs)},
        "prompt_hashes": sorted(r.prompt_hash() for r in requests),
    }


def bare_child(out_path: str, n: int, rounds: int, full: bool, verdict_mode: str = "logprobs") -> None:
    """Child-process entry: build the worker's backend, measure, write JSON, shut the engine down."""
    from service.config import Settings, default_embedded_judge
    from workers.backends.vllm_engine import VLLMBackend

    start = time.perf_counter()
    backend = VLLMBackend(default_embedded_judge(), Settings())
    startup = time.perf_counter() - start
    try:
        result = measure_bare(backend, n, rounds, full, verdict_mode)
    finally:
        backend.close()
    result["startup_s"] = startup
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


def run_bare(harness, label: str, args: argparse.Namespace, log_dir: Path, env: dict[str, str] | None = None) -> dict:
    """Run (a) in a fresh child process (its engine is gone when this returns); ``env``: its environment
    (default: this one without JUDGESERVE_* settings)."""
    wait_for_memory(harness)
    out = log_dir / f"{label}.json"
    argv = [sys.executable, str(OVERHEAD_SCRIPT), "--bare-child", str(out), "--n", str(args.n),
            "--rounds", str(args.rounds), "--bare-verdict-mode", getattr(args, "verdict_mode", "logprobs")]
    argv += ["--backend-generate"] if args.backend_generate else []
    env = env if env is not None else child_env(args.model_cache_dir)
    return run_json_child(harness, label, argv, env, log_dir, out)[0]


# ---------------------------------------------------------------- (a) kept for a turn beside (b), timed in turns


def bare_server(directory: str, n: int, rounds: int, full: bool) -> None:
    """Child-process entry: build the worker's backend, warm it up, then time one set per command.

    Commands are lines ``{"k": K, "set": R}`` read from the FIFO ``directory/commands`` (blocking, so the
    idle engine costs no CPU while (b) runs); each answer is ``directory/result-K.json``; ``quit`` ends it.
    """
    from service.config import Settings, default_embedded_judge
    from workers.backends.vllm_engine import VLLMBackend

    root = Path(directory)
    start = time.perf_counter()
    backend = VLLMBackend(default_embedded_judge(), Settings())
    startup = time.perf_counter() - start
    try:
        warm_prompts, warm_params = render(backend, [r for _, _, r in plan_requests(warmup_items())])
        backend.llm.generate(warm_prompts, warm_params, use_tqdm=False)
        sets = [plan_requests(item_set(index, n)) for index in range(rounds)]
        _write(root / "ready.json", {"startup_s": startup})
        with open(root / "commands", encoding="utf-8") as commands:
            for line in commands:
                if line.strip() == "quit":
                    break
                command = json.loads(line)
                _write(root / f"result-{command['k']}.json", _timed_set(backend, sets[command["set"]], full))
    finally:
        backend.close()


def _timed_set(backend, planned: list, full: bool) -> dict:
    """One cold-prefix ``llm.generate`` of a planned set (and, if ``full``, the backend's whole generate)."""
    requests = [r for _, _, r in planned]
    start = time.perf_counter()
    prompts, params = render(backend, requests)
    render_s = time.perf_counter() - start
    bare_s, outputs, cpu = timed_generate(backend, prompts, params)
    backend_s = None
    if full:
        backend.llm.reset_prefix_cache()
        start = time.perf_counter()
        backend.generate(requests)
        backend_s = time.perf_counter() - start
    return {"calls": len(prompts), "render_s": render_s, "bare_s": bare_s, "backend_s": backend_s, "cpu": cpu,
            "prompt_tokens": sum(len(p["prompt_token_ids"]) for p in prompts),
            "labels": {f"{i}/{o}": out.outputs[0].text for (i, o, _), out in zip(planned, outputs)},
            "prompt_hashes": sorted(r.prompt_hash() for r in requests)}


def _write(path: Path, value: dict) -> None:
    """Write JSON so that a reader never sees half of it (rename)."""
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(value), encoding="utf-8")
    partial.rename(path)


class BareEngine:
    """Side (a) as a child process that keeps its engine between timed runs (``run(set)``, one at a time)."""

    def __init__(self, harness, args: argparse.Namespace, log_dir: Path):
        self.directory = Path(tempfile.mkdtemp(prefix="bare-", dir=log_dir))
        os.mkfifo(self.directory / "commands")
        # read-write: opening never blocks and the FIFO stays open while the child starts
        self.fifo = os.open(self.directory / "commands", os.O_RDWR)
        argv = [sys.executable, str(OVERHEAD_SCRIPT), "--bare-server", str(self.directory), "--n", str(args.n),
                "--rounds", str(args.rounds)] + (["--backend-generate"] if args.backend_generate else [])
        wait_for_memory(harness)
        self.child = harness.spawn("bare", argv, child_env(args.model_cache_dir), log_dir)
        self.sent = 0
        try:
            self.startup_s = self._wait_for(self.directory / "ready.json", 900)["startup_s"]
        except BaseException:  # not started (or interrupted): leave no child and no open FIFO behind
            self.child.stop(30)
            os.close(self.fifo)
            raise

    def run(self, index: int) -> dict:
        """Time set ``index`` once (cold prefix cache); the child's measurements."""
        self.sent += 1
        os.write(self.fifo, (json.dumps({"k": self.sent, "set": index}) + "\n").encode())
        return self._wait_for(self.directory / f"result-{self.sent}.json", 900)

    def close(self) -> None:
        """Ask the child to quit, then stop it (SIGTERM, then SIGKILL)."""
        try:
            os.write(self.fifo, b"quit\n")
            self.child.wait(timeout=60)
        finally:
            self.child.stop(30)
            os.close(self.fifo)

    def _wait_for(self, path: Path, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.child.poll():
                raise RuntimeError(f"the bare engine exited with {self.child.returncode}:\n{self.child.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bare engine gave no {path.name} within {timeout:.0f} s")
            time.sleep(0.05)
        return json.loads(path.read_text(encoding="utf-8"))
