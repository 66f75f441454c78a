"""The service against what users run instead: a concurrent client of ``vllm serve`` on the same prompts.

    .venv/bin/python bench/vs_vllm_serve.py          # N=16 items -> 32 judgments per mode, ~20 min on 2 cores

The same N LLMBar Natural pairs, both orders (the prompts ``PairwiseProtocol.plan_calls`` renders), are
judged two ways in one run, in each verdict mode (``logprobs``: one constrained one-token verdict with
top-20 logprobs; ``rationale``: the judge's reasoning, up to ``rationale_tokens`` 256, then the
constrained verdict with the reasoning in the conversation):

(a) AlpacaEval / Arena-Hard style: ``python -m vllm.entrypoints.openai.api_server`` on the bundled judge
    with the embedded judge's engine settings (dtype, KV-cache bytes, enforce_eager, max_model_len,
    seed; prefix caching on, the server's default) and vLLM's DEFAULT CPU thread binding (this
    environment's ``VLLM_CPU_OMP_THREADS_BIND`` / ``VLLM_CPU_NUM_OF_RESERVED_CPU`` are removed for it),
    and one asyncio httpx client that sends every judgment at once with at most C requests in flight
    (C = 8, 32, 64; the best counts): ``/v1/chat/completions``, temperature 0, the call's seed,
    ``max_tokens`` 5, ``logprobs`` + ``top_logprobs`` 20, ``structured_outputs: {"choice": ["1","2","tie"]}``,
    the same bodies the service's own HTTP client sends; in rationale mode two requests per judgment.
(b) the service end to end: the real gateway and one long-running worker ``python -m workers --judge
    embedded`` (the in-process engine, with whatever binding the service gives it); one evaluation of the
    N items, ``{"chunk_size": N, "cache": false}`` (+ ``verdict_mode: rationale``), POST -> completed
    seen (polled every 0.5 s, ``--poll``: at most 0.5 s late on runs of 20-100 s, and the polls take
    the engine less CPU than at 0.1 s).

Order in each mode: (a) at C = 8, 32, 64, then (b) twice, then (a) again at the best C; (a)'s rate is
that C's two runs, (b)'s its two runs. Every (a) run starts with the server's prefix cache reset and
one untimed warm-up judgment (another item); every (b) run has a freshly started worker (so a cold
prefix cache) and a 2-item warm-up evaluation first. Each run prints the CPU seconds of every process
tree (server; gateway; worker with its engine core; this script = the client) and of other jobs.
Checks: (b) stored the same prompt hashes as planned, (a) and (b) counted the same prompt tokens, and
how many verdicts agree. Target: judgments/s (b)/(a) >= 1.0 in each mode; exits 1 when missed. Uses
its own Postgres database and Redis DB (``--db``, ``--redis-url``), recreated and dropped/flushed.
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

from bench.vllm_common import (MAX_TOKENS, TOP_LOGPROBS, binding_text, bundled_model_dir,  # noqa: E402
                               load_items, plan_requests, retry_on_memory, server_flags, start_server,
                               stop_server, warmup_items)
from bench.vs_vllm_sides import client_run, service_run, timed_client_run, with_engine  # noqa: E402

TARGET = 1.0
A_TREES = ("server engine core", "server", "client")
B_TREES = ("gateway", "worker engine core", "worker", "client")
TREES = ("server engine core", "server", "gateway", "worker engine core", "worker", "client", "other jobs")


# ---------------------------------------------------------------- report


def header(harness, args: argparse.Namespace, model_dir: Path) -> None:
    import vllm

    print("== bench/vs_vllm_serve: the service vs a concurrent client of vLLM's OpenAI-compatible server ==")
    for line in harness.machine_info():
        print(line)
    print(f"vLLM {vllm.__version__}; (a) server: python -m vllm.entrypoints.openai.api_server --model {model_dir} "
          f"{' '.join(server_flags())} (the embedded judge's engine settings; prefix caching on), vLLM's default "
          f"CPU binding; client: asyncio httpx, concurrency {args.concurrency}")
    bind = {k: os.environ[k] for k in ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU") if k in os.environ}
    print(f"(b) gateway + one worker `python -m workers --judge embedded` (in-process engine); environment "
          f"binding variables for (b): {bind or 'none (the service decides)'}")
    print(f"N = {args.n} items (LLMBar Natural 0..{args.n - 1}) x 2 orders = {2 * args.n} judgments per mode; "
          f"warm-up items {[i['id'] for i in warmup_items()]}; modes {args.verdict_mode}; "
          f"verdict max_tokens {MAX_TOKENS}, top_logprobs {TOP_LOGPROBS}; rationale_tokens {args.rationale_tokens}",
          flush=True)


def side_cpu(runs: list[dict], trees: tuple[str, ...]) -> tuple[float, float]:
    """(average cores, CPU seconds) of a side's process trees over its runs."""
    seconds = sum(sum(r["cpu"].get(t, 0.0) for t in trees) for r in runs)
    return seconds / sum(r["cpu"]["wall"] for r in runs), seconds


def print_run(run: dict, calls: int) -> None:
    cpu = run["cpu"]
    trees = ", ".join(f"{name} {cpu[name]:.1f}" for name in TREES if name in cpu)
    own = A_TREES if run["side"] == "a" else B_TREES
    cores = sum(cpu.get(t, 0.0) for t in own) / cpu["wall"]
    what = f"(a) C={run['concurrency']:<2}" if run["side"] == "a" else "(b) service"
    cache = (f"; {run['tokens']:.0f} prompt tokens, {run['hits']:.0f} from the prefix cache"
             if run["side"] == "a" else f"; worker ready after {run['ready_s']:.0f} s")
    print(f"  {what}: {run['seconds']:7.2f} s = {calls / run['seconds']:5.2f} judgments/s{cache}; CPU s: {trees} "
          f"(this side {cores:.2f} cores)", flush=True)


def checks(planned: list, a_run: dict, b_run: dict) -> str:
    """Same prompts (hashes, token counts) and how many verdicts agree between (a) and (b)."""
    hashes = tokens = verdicts = rationales = 0
    for (item, order, request), a in zip(planned, a_run["results"]):
        b = b_run["judgments"][f"{item}/{order}"]
        hashes += b["prompt_hash"] == request.prompt_hash()
        tokens += b["prompt_tokens"] == a["prompt_tokens"]
        verdicts += b["raw_output"] == a["text"]
        rationales += (b["rationale"] or "").strip() == (a["rationale"] or "").strip()
    n = len(planned)
    text = f"prompt hashes as planned {hashes}/{n}; same prompt tokens {tokens}/{n}; same verdict {verdicts}/{n}"
    return text + (f"; same reasoning {rationales}/{n}" if planned[0][2].rationale_tokens else "")


def report(mode: str, planned: list, runs: list[dict], best: int) -> float:
    calls = len(planned)
    a_runs = [r for r in runs if r["side"] == "a" and r["concurrency"] == best]
    b_runs = [r for r in runs if r["side"] == "b"]
    rate_a = calls * len(a_runs) / sum(r["seconds"] for r in a_runs)
    rate_b = calls * len(b_runs) / sum(r["seconds"] for r in b_runs)
    sweep = ", ".join(f"C={r['concurrency']} {calls / r['seconds']:.2f}" for r in runs if r["side"] == "a")
    print(f"(a) judgments/s per run: {sweep}; best C = {best}")
    for name, side_runs, rate, trees in (("(a) vllm serve + client", a_runs, rate_a, A_TREES),
                                         ("(b) service end to end", b_runs, rate_b, B_TREES)):
        cores, cpu_s = side_cpu(side_runs, trees)
        other = sum(r["cpu"]["other jobs"] for r in side_runs) / sum(r["cpu"]["wall"] for r in side_runs)
        print(f"{name}: {rate:.2f} judgments/s (runs: {len(side_runs)}); CPU {cores:.2f} cores on average, "
              f"{cpu_s:.1f} CPU s = {cpu_s / (calls * len(side_runs)):.2f} CPU s per judgment "
              f"({' + '.join(trees)}); other jobs {other:.2f} cores")
    print("(a) vs (b): " + checks(planned, a_runs[-1], b_runs[0]))
    ratio = rate_b / rate_a
    print(f"RATIO {mode} (b)/(a) = {ratio:.2f}  target >= {TARGET:.1f}: {'met' if ratio >= TARGET else 'MISSED'}",
          flush=True)
    return ratio


# ---------------------------------------------------------------- one verdict mode


def run_mode(ctx: dict, mode: str, args: argparse.Namespace) -> float:
    """All runs of one verdict mode; returns its ratio."""
    options = {} if mode == "logprobs" else {"verdict_mode": mode, "rationale_tokens": args.rationale_tokens}
    planned = plan_requests(load_items(0, args.n), **options)
    requests = [r for _, _, r in planned]
    warm = [r for _, _, r in plan_requests(warmup_items(), **options)]
    print(f"\n-- verdict_mode {mode}: {len(requests)} judgments, "
          f"{'one request' if not options else 'two requests (reasoning, then verdict)'} per judgment in (a)",
          flush=True)
    client_run(ctx["base"], ctx["model"], warm, 8)  # the server's first requests of this mode, untimed
    a_procs = with_engine({}, "server", ctx["server"].pid) | {"gateway": ctx["gw"].child.pid}
    timed_a = functools.partial(timed_client_run, ctx["sync"], ctx["base"], ctx["model"], requests, warm,
                                procs=a_procs)
    runs = []
    for concurrency in args.concurrency:
        runs.append(timed_a(concurrency=concurrency))
        print_run(runs[-1], len(requests))
    best = max((r for r in runs), key=lambda r: len(requests) / r["seconds"])["concurrency"]
    for _ in range(args.b_runs):
        runs.append(service_run(ctx["harness"], ctx["env"], ctx["log_dir"], ctx["gw"], ctx["client"],
                                load_items(0, args.n), warmup_items(), options, a_procs, args.poll))
        print_run(runs[-1], len(requests))
    runs.append(timed_a(concurrency=best))
    print_run(runs[-1], len(requests))
    print(f"binding: (a) server: {binding_text(ctx['server'].log_path.read_text(errors='replace'))}; "
          f"(b) worker: {binding_text(runs[-2]['log'])}")
    return report(mode, planned, runs, best)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16, help="items (judgments = 2N per mode); at most 98")
    parser.add_argument("--verdict-mode", choices=("both", "logprobs", "rationale"), default="both")
    parser.add_argument("--concurrency", default="8,32,64", help="(a)'s in-flight limits, comma-separated")
    parser.add_argument("--b-runs", type=int, default=2, help="timed service runs per mode")
    parser.add_argument("--rationale-tokens", type=int, default=256, help="rationale_tokens in rationale mode")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between GETs in (b) (each GET costs the "
                        "gateway CPU the engine could use: 0.1 s cost ~0.07 cores here)")
    parser.add_argument("--db", default="judgeserve_bench_vs_serve", help="the bench's own Postgres database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="the bench's own Redis DB")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database at the end")
    parser.add_argument("--model-cache-dir", help="JUDGESERVE_MODEL_CACHE_DIR (default: the service's)")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if not 1 <= args.n <= 98 or args.b_runs < 1 or min(args.concurrency) < 1:
        parser.error("--n must be 1..98, --b-runs >= 1, concurrencies >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import httpx

    from bench import harness

    harness.DATABASE, harness.REDIS_URL = args.db, args.redis_url  # read when called: this bench's own
    model_dir = bundled_model_dir(args.model_cache_dir)
    header(harness, args, model_dir)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-vs-serve-"))
    print(f"logs: {log_dir}", flush=True)
    db_url = harness.recreate_database(args.db)
    harness.flush_redis(args.redis_url)
    env = harness.service_env(db_url, **({"model_cache_dir": args.model_cache_dir} if args.model_cache_dir else {}))
    start = functools.partial(start_server, harness, model_dir, log_dir, default_binding=True)
    ratios = {}
    try:
        server, base, model, ready_s = retry_on_memory(harness, "server", log_dir / "vllm-server.log", start)
        try:
            print(f"server ready after {ready_s:.0f} s at {base} (model {model})", flush=True)
            with harness.gateway(env, log_dir) as gw, gw.client(timeout=60) as client, \
                    httpx.Client(timeout=120) as sync:
                ctx = {"harness": harness, "env": env, "log_dir": log_dir, "gw": gw, "client": client,
                       "sync": sync, "server": server, "base": base, "model": model}
                modes = ["logprobs", "rationale"] if args.verdict_mode == "both" else [args.verdict_mode]
                for mode in modes:
                    ratios[mode] = run_mode(ctx, mode, args)
        finally:
            stop_server(server)
    finally:
        harness.flush_redis(args.redis_url)
        if not args.keep_db:
            harness.drop_database(args.db)
    print("\n" + "; ".join(f"{mode}: (b)/(a) = {ratio:.2f} ({'met' if ratio >= TARGET else 'MISSED'})"
                           for mode, ratio in ratios.items()) + f"  (target >= {TARGET:.1f} in each mode)")
    return 0 if all(ratio >= TARGET for ratio in ratios.values()) else 1


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    sys.exit(main())
