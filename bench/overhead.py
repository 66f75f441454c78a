"""Service overhead: bare ``vllm.LLM.generate`` vs the full gateway → Redis/RQ → worker → Postgres path.

    .venv/bin/python bench/overhead.py            # N=32 items → 64 judgments; ~8-10 min on 2 cores

The same N LLMBar Natural pairs, both orders (2N judge calls), with the embedded judge's engine
settings (``default_embedded_judge()``: the bundled SmolLM2-135M, float32 on CPU):

(a) bare: a child process builds the worker's own ``VLLMBackend`` (the same ``vllm.LLM`` kwargs),
    renders the prompts exactly as the worker does (``PairwiseProtocol.plan_calls`` + the
    backend's chat-template rendering and sampling parameters), warms up on two other items and
    times one ``backend.llm.generate(prompts, params)`` over all 2N prompts (with
    ``--backend-generate`` also the worker's whole ``backend.generate(requests)``: rendering and
    logprob reading included).
(b) end to end: the real gateway (uvicorn) and one long-running worker (``python -m workers
    --judge embedded``); one warm-up evaluation on two other items, then an evaluation of the N
    items with ``{"chunk_size": N, "cache": false}``, timed from POST until GET shows
    ``completed`` (polled every 0.2 s); judgments/s = 2N / that time.

With ``--rounds R`` (default 1) this is done for R disjoint sets of N items (set r = items
rN..rN+N-1), so no timed run profits from prompts another run left in vLLM's prefix cache (in
(a), the cache is also reset before each timed call). The report splits (b)'s wall time by the
timestamps the service stores (evaluation created/started/completed, judgment and verdict rows,
the RQ job) and the engine time the worker records per call.

(a) runs before and after (b), never at the same time as the worker's engine (2 cores, RAM), so
drift shows. Target: rate(b) / rate(a) >= 0.97, rates over all sets and both (a) phases; exits 1
when missed. Uses its own Postgres database
``judgeserve_bench_overhead`` (recreated, dropped at the end) and Redis DB 8.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.overhead_bare import bare_child, bare_phase  # noqa: E402
from bench.overhead_e2e import JUDGE, breakdown, run_e2e  # noqa: E402
from bench.vllm_common import (DB_NAME, REDIS_URL, bundled_model_dir, cpu_text, retry_on_memory,  # noqa: E402
                               warmup_items)

TARGET = 0.97  # issue 17: the all-core binding must carry through the service


# ---------------------------------------------------------------- report


def header(harness, args: argparse.Namespace) -> None:
    """Machine, N and the engine settings."""
    import vllm

    from service.config import default_embedded_judge
    from workers.backends.vllm_engine import engine_kwargs

    model_dir = bundled_model_dir(args.model_cache_dir)
    n, rounds = args.n, args.rounds
    print("== bench/overhead: bare vllm.LLM.generate vs gateway -> Redis/RQ -> worker -> Postgres ==")
    for line in harness.machine_info():
        print(line)
    print(f"vLLM {vllm.__version__}")
    sets = "; ".join(f"set {r}: LLMBar Natural {r * n}..{(r + 1) * n - 1}" for r in range(rounds))
    print(f"N = {n} items x 2 orders = {2 * n} judgments per set, {rounds} set(s) ({sets}); warm-up items "
          f"{[i['id'] for i in warmup_items()]}; (b) poll interval {args.poll} s; order: (a) before, (b), "
          f"{'(a) after' if not args.no_after else 'no (a) after'}")
    judge = default_embedded_judge()
    print(f"engine (both sides, the worker's engine_kwargs): {engine_kwargs(judge, str(model_dir))}")
    kv = os.environ.get("VLLM_CPU_KVCACHE_SPACE")
    own = {k: v for k, v in judge.engine.items() if k in ("gpu_memory_utilization", "kv_cache_memory_bytes")}
    print(f"KV cache: {f'VLLM_CPU_KVCACHE_SPACE={kv} GiB (every engine)' if kv else f'{own} (the service)'}")
    print(f"sampling: judge {judge.sampling}; verdict = constrained choice ['1','2','tie'], logprobs top-20, "
          f"max_tokens 4; one LLM.generate per set (chunk_size N)", flush=True)


def print_bare(label: str, result: dict) -> None:
    print(f"(a) {label}: engine start {result['startup_s']:.0f} s")
    for index, r in enumerate(result["rounds"]):
        full = "" if r["backend_s"] is None else (
            f"; backend.generate (render + generate + logprobs) {r['calls'] / r['backend_s']:.2f}/s")
        print(f"    set {index}: {r['calls']} calls, {r['prompt_tokens']} prompt tokens, render "
              f"{r['render_s'] * 1000:.0f} ms; bare llm.generate {r['bare_s']:.2f} s = "
              f"{r['calls'] / r['bare_s']:.2f} judgments/s{full}; {cpu_text(r['cpu'])}", flush=True)
        split = r["cpu"].get("split") or {}
        print("      CPU seconds by process: " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in split.items())
              + " (engine = the engine's processes; front end = the process calling llm.generate)", flush=True)


def print_e2e(result: dict) -> None:
    print(f"(b) end to end: worker ready after {result['ready_s']:.0f} s")
    for index, timed in enumerate(result["rounds"]):
        calls, tokens = timed["db"][0], timed["db"][3]
        print(f"    set {index}: {calls} judgments, {tokens} prompt tokens; POST -> completed "
              f"{timed['elapsed']:.2f} s = {calls / timed['elapsed']:.2f} judgments/s; {cpu_text(timed['cpu'])}")
        for name, seconds in breakdown(timed):
            print(f"      {name:<62} {seconds * 1000:7.0f} ms ({seconds / timed['elapsed']:5.1%})")
        split = timed.get("cpu_split") or {}
        print("      CPU seconds by process: " + ", ".join(
            f"{name} {seconds:.2f}" for name, seconds in split.items()) + " (engine = the worker's engine "
            "processes; worker = its own process: RQ, heartbeats, the job)")


def compare(bare: list[dict], e2e: dict) -> float:
    """Print rates, ratios and sanity checks; returns the headline ratio."""
    def rate(runs: list[dict], key: str) -> float:
        return sum(r["calls"] for r in runs) / sum(r[key] for r in runs)

    b_runs = [dict(t, calls=t["db"][0]) for t in e2e["rounds"]]
    a_runs = [r for phase in bare for r in phase["rounds"]]
    rate_a, rate_b = rate(a_runs, "bare_s"), rate(b_runs, "elapsed")
    for phase in bare:
        print(f"ratio (b)/(a {phase['label']}) = {rate_b / rate(phase['rounds'], 'bare_s'):.3f}")
    for index, timed in enumerate(b_runs):
        same = [phase["rounds"][index] for phase in bare]
        print(f"set {index}: ratio (b)/(a) = {timed['calls'] / timed['elapsed'] / rate(same, 'bare_s'):.3f}")
    engine_b = sum((t["db"][1] or 0) / 1000 for t in b_runs) / len(b_runs)
    engine_a = sum(r["bare_s"] for r in a_runs) / len(a_runs)
    elapsed_b = sum(t["elapsed"] for t in b_runs) / len(b_runs)
    print(f"per set: engine time in the worker {engine_b:.2f} s vs bare {engine_a:.2f} s "
          f"({engine_b / engine_a:.2f}x); non-engine time end to end {elapsed_b - engine_b:.2f} s")
    print(f"(b)'s own engine time / its wall time = {engine_b / elapsed_b:.3f}: the ratio if the worker's engine "
          f"ran exactly as fast as the bare one (insensitive to load drift between phases)")
    checks = []
    for index, timed in enumerate(b_runs):
        a = bare[0]["rounds"][index]
        same_prompts = sorted(h for _, h in timed["judgments"].values()) == a["prompt_hashes"]
        agree = sum(a["labels"].get(k) == v for k, (v, _) in timed["judgments"].items())
        checks.append(f"set {index}: same prompts {same_prompts}, same verdict {agree}/{len(timed['judgments'])}")
    print("(a) vs (b): " + "; ".join(checks))
    ratio = rate_b / rate_a
    print(f"(a) bare generate {rate_a:.2f} judgments/s (all phases and sets); (b) end to end {rate_b:.2f} judgments/s")
    print(f"RATIO (b)/(a) = {ratio:.3f}  target >= {TARGET:.2f}: {'met' if ratio >= TARGET else 'MISSED'}")
    return ratio


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32, help="items per set (judgments = 2N per set)")
    parser.add_argument("--rounds", type=int, default=1, help="disjoint item sets, each timed on both sides")
    parser.add_argument("--backend-generate", action="store_true", help="in (a), also time the worker's "
                        "whole VLLMBackend.generate (render + generate + logprobs) on each set")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between GETs in (b)")
    parser.add_argument("--no-after", action="store_true", help="skip the second (a) phase")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database at the end")
    parser.add_argument("--model-cache-dir", help="JUDGESERVE_MODEL_CACHE_DIR for every engine "
                        "(default: the service's, ~/.cache/judgeserve/models)")
    parser.add_argument("--kv-cache-gib", type=int, help="set VLLM_CPU_KVCACHE_SPACE for every engine "
                        "(default: unset, i.e. the embedded judge's gpu_memory_utilization x RAM)")
    parser.add_argument("--bare-child", help=argparse.SUPPRESS)
    parser.add_argument("--bare-verdict-mode", default="logprobs", choices=("logprobs", "rationale"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 1 or args.n * args.rounds > 98:
        parser.error("need N >= 1, rounds >= 1 and N x rounds <= 98 (the last two items are the warm-up)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_child:
        bare_child(args.bare_child, args.n, args.rounds, args.backend_generate, args.bare_verdict_mode)
        return 0
    from bench import harness

    if args.kv_cache_gib:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(args.kv_cache_gib)  # inherited by every engine
    header(harness, args)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    print(f"logs: {log_dir}", flush=True)
    try:
        bare = [bare_phase(harness, "before", args, log_dir)]
        print_bare("before (b)", bare[0])
        e2e = retry_on_memory(harness, "(b)", log_dir / f"worker-{JUDGE}.log",
                              functools.partial(run_e2e, harness, args, log_dir))
        print_e2e(e2e)
        if not args.no_after:
            bare.append(bare_phase(harness, "after", args, log_dir))
            print_bare("after (b)", bare[1])
        ratio = compare(bare, e2e)
    finally:
        harness.flush_redis(REDIS_URL)
        if not args.keep_db:
            harness.drop_database(DB_NAME)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    sys.exit(main())
