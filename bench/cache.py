"""Benchmark: the judge-call cache — first run vs identical re-run of an evaluation (not a test).

Target (issue "bench/cache", raised from 10x by issue 17): the identical re-run makes zero engine
calls and is >= 50x faster end to end than the first run.

Everything runs for real: a fresh, migrated Postgres database (``judgeserve_bench_pipe``), Redis
DB 10, the gateway (``uvicorn --factory service.api.app:app_from_env``) and ONE long-running judge
worker (``python -m workers --judge embedded``: the bundled SmolLM2-135M on vLLM, CPU) that is
started once; only the evaluations are timed, from the POST until a GET shows them completed.
Before the two measured runs, a small warm-up evaluation on other items pays the engine's first
``generate``, so run #1 is not inflated by one-off start-up work. Engine calls per evaluation are
its judgments stored with ``cached = false``.

Run: .venv/bin/python bench/cache.py   (see bench/README.md). Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import harness as h  # noqa: E402

JUDGE = "embedded"
DATASET = Path("/work/shared/data/llmbar-natural/dataset.json")
TARGET_RATIO = 50.0
TARGET_RERUN_ENGINE_CALLS = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=32, help="LLMBar Natural items per evaluation (N)")
    parser.add_argument("--warmup-items", type=int, default=4, help="items of the untimed warm-up evaluation")
    parser.add_argument("--dataset", type=Path, default=DATASET, help="LLMBar-format dataset.json")
    parser.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for the worker")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    return parser.parse_args()


def llmbar_items(path: Path, start: int, count: int) -> list[dict]:
    """Pairwise items from LLMBar (label 1 = output_1 is better = response A)."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    if start + count > len(rows):
        raise SystemExit(f"{path} has {len(rows)} items; {start + count} needed")
    return [{"id": f"llmbar-natural-{i}", "prompt": row["input"], "response_a": row["output_1"],
             "response_b": row["output_2"], "human_label": "a" if int(row["label"]) == 1 else "b"}
            for i, row in enumerate(rows[start:start + count], start)]


def body(items: list[dict]) -> bytes:
    """The pairwise evaluation (both orders, default options: logprobs verdicts, cache on)."""
    return json.dumps({"protocol": "pairwise", "judge": JUDGE, "model": "llmbar-output-1",
                       "options": {"orders": "both"}, "items": items}).encode()


def run_evaluation(client: httpx.Client, content: bytes, worker: h.Child, timeout: float = 900) -> dict:
    """POST, then poll every 20 ms until completed; returns the final state and the end-to-end seconds."""
    started = time.perf_counter()
    created, post_s = h.post_evaluation(client, content)
    final = h.wait_terminal(client, created["id"], timeout, interval=0.02, watch=worker)
    seconds = time.perf_counter() - started
    if final["status"] != "completed":
        raise RuntimeError(f"evaluation {created['id']} ended {final['status']}: {final.get('error')}")
    return {"id": created["id"], "seconds": seconds, "post_s": post_s, "final": final}


def engine_calls(db_url: str, evaluation_id: str) -> tuple[int, int, float]:
    """(judgments, judgments not from the cache, server-side seconds created_at -> completed_at)."""
    (total, fresh, server_s), = h.query(db_url, """
        SELECT (SELECT count(*) FROM judgments j WHERE j.evaluation_id = e.id),
               (SELECT count(*) FROM judgments j WHERE j.evaluation_id = e.id AND NOT j.cached),
               EXTRACT(EPOCH FROM e.completed_at - e.created_at)::float8
        FROM evaluations e WHERE e.id = %s""", (evaluation_id,))
    return total, fresh, server_s


def measure(args: argparse.Namespace, db_url: str) -> dict:
    """Gateway + one long-running worker; warm-up, run #1, identical run #2; both processes stopped."""
    items = llmbar_items(args.dataset, 0, args.items)
    warmup = llmbar_items(args.dataset, args.items, args.warmup_items)  # other items: the cache stays cold
    with tempfile.TemporaryDirectory(prefix="judgeserve-bench-cache-") as tmp:
        log_dir = Path(tmp)
        env = h.service_env(db_url)
        print(f"settings: N={args.items} LLMBar Natural items (0..{args.items - 1}) x 2 orders = {2 * args.items} "
              f"judge calls per run, default options (verdict_mode logprobs, samples 1, chunk_size "
              f"{env.get('JUDGESERVE_CHUNK_SIZE', 32)} -> one chunk, cache on); judge {JUDGE!r} = bundled "
              f"SmolLM2-135M-Instruct on vLLM (CPU, float32, enforce_eager); warm-up evaluation of "
              f"{args.warmup_items} other items first (untimed for the ratio); GET polled every 20 ms; "
              f"1 gateway (uvicorn, access log off), 1 long-running worker; env: {h.env_summary(env)}", flush=True)
        with h.gateway(env, log_dir) as gw, gw.client(timeout=120.0) as client, \
                h.worker(env, log_dir, JUDGE, stop_timeout=60.0) as worker:
            started = time.monotonic()
            ready_s = h.wait_judge_available(client, JUDGE, args.ready_timeout, worker)
            print(f"worker ready (engine built, heartbeat seen) after {ready_s:.1f} s", flush=True)
            warm = run_evaluation(client, body(warmup), worker)
            print(f"warm-up evaluation ({args.warmup_items} items): {warm['seconds']:.2f} s", flush=True)
            runs = [run_evaluation(client, body(items), worker) for _ in range(2)]
            worker.sample()
            gw.child.sample()
            rss = {"gateway": gw.child.peak_mb, "worker": worker.peak_mb}
        print(f"worker stopped after {time.monotonic() - started:.0f} s (exit code {worker.returncode})")
    for run in runs:
        run["judgments"], run["engine_calls"], run["server_s"] = engine_calls(db_url, run["id"])
    return {"runs": runs, "rss": rss, "n": args.items}


def report(result: dict) -> dict[str, bool]:
    """Print both runs, the speed-up and the checks; returns check -> met."""
    first, rerun = result["runs"]
    n = result["n"]
    print(f"\n{'run':18} {'end to end s':>12} {'POST s':>8} {'server s':>9} {'judgments':>10} {'engine calls':>13}")
    for name, run in (("#1 first", first), ("#2 identical", rerun)):
        print(f"{name:18} {run['seconds']:>12.3f} {run['post_s']:>8.3f} {run['server_s']:>9.3f} "
              f"{run['judgments']:>10} {run['engine_calls']:>13}")
    ratio = first["seconds"] / rerun["seconds"]
    server_ratio = first["server_s"] / rerun["server_s"]
    same = (first["final"]["summary"] == rerun["final"]["summary"]
            and first["final"]["reliability"] == rerun["final"]["reliability"])
    met = {
        "engine_calls": rerun["engine_calls"] == TARGET_RERUN_ENGINE_CALLS,
        "ratio": ratio >= TARGET_RATIO,
        "first_run_cold": first["engine_calls"] == 2 * n and rerun["judgments"] == 2 * n,
        "same_results": same,
    }
    print(f"\nre-run engine calls: {rerun['engine_calls']} (target {TARGET_RERUN_ENGINE_CALLS}: "
          f"{h.verdict(met['engine_calls'])})")
    print(f"speed-up first / re-run, end to end: {ratio:.1f}x "
          f"(target >= {TARGET_RATIO:g}x: {h.verdict(met['ratio'])}); "
          f"server side (created_at -> completed_at): {server_ratio:.1f}x (information)")
    print(f"run #1 judged all {2 * n} calls on the engine and run #2 stored all {2 * n}: "
          f"{'yes' if met['first_run_cold'] else 'NO'}")
    print(f"identical summary and reliability report: {'yes' if same else 'NO'} "
          f"(win_rate {first['final']['summary'].get('win_rate')} vs {rerun['final']['summary'].get('win_rate')})")
    print(f"peak RSS: gateway {result['rss']['gateway']:,.0f} MiB; worker process {result['rss']['worker']:,.0f} MiB "
          f"(without vLLM's engine-core child process)")
    return met


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    print("machine:\n  " + "\n  ".join(h.machine_info()), flush=True)
    db_url = h.recreate_database()
    h.flush_redis()
    try:
        met = report(measure(args, db_url))
    finally:
        h.flush_redis()
        if not args.keep_db:
            h.drop_database()
    ok = all(met.values())
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {'all targets met' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
