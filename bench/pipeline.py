"""Benchmark: gateway submission time and one worker's verdict throughput to Postgres (not a test).

Targets (issue 17, part 4; before it: 2,000/s and 2 s): with an instant ``scripted`` judge, ONE
worker with one chunk in flight persists >= 5,000 verdicts/s (so the service never starves a GPU
judge), and the gateway accepts a 10,000-item pairwise submission in <= 1 s. Peak RSS of the gateway
and the worker is reported.

Everything runs for real: a fresh, migrated Postgres database (``judgeserve_bench_pipe``), Redis
DB 10, the gateway as ``uvicorn --factory service.api.app:app_from_env`` and the worker as
``python -m workers --judge scripted --burst``, started only after the submission is queued.
The timed POSTs send different bodies (``--submissions``, 3 by default: same size, other texts, so
no judge-call cache hits), and the one worker judges all of them, one evaluation after the other
(RQ's queue is FIFO). Throughput of an evaluation = items / (completed_at - started_at): both
timestamps are written by the worker, from the first chunk's claim to the last chunk's finalize.
The median over the evaluations counts for the target (the machine is shared and noisy); each
evaluation's rate is printed.

When a target is missed (or with --profile always) the script profiles the slow path in this
process with cProfile — the real chunk job ``workers.jobs.judge_chunk.run`` on a second evaluation,
and/or the gateway's submit path — and prints where the time goes, and the bound the protocol's and
the scripted judge's own work sets (the same per-item work with no database: N / its seconds).

``--in-flight N`` runs the worker with JUDGESERVE_WORKER_CHUNKS_IN_FLIGHT=N (default 1, the
service's default): N chunk jobs at once in the one worker process.

Run: .venv/bin/python bench/pipeline.py   (see bench/README.md). Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import harness as h  # noqa: E402

JUDGE = "scripted"
TARGET_VERDICTS_PER_S = 5000.0
TARGET_SUBMIT_S = 1.0
WORDS = ("the model answer explains why a response should cite sources and state its assumptions clearly "
         "before giving the final result with enough detail for a reader to check each step of reasoning "
         "about data tables code errors dates units prices cities rivers history science poems recipes").split()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items in the submission (N)")
    parser.add_argument("--chunk-size", type=int, default=200, help="options.chunk_size of the evaluation")
    parser.add_argument("--submissions", type=int, default=3,
                        help="timed POSTs of N-item bodies, all judged by the worker (medians reported)")
    parser.add_argument("--chars", type=int, default=300, help="approximate characters per prompt and response")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                        help="profile in-process when a target is missed (auto), always, or never")
    parser.add_argument("--profile-items", type=int, default=10_000, help="items of each in-process run")
    parser.add_argument("--in-flight", type=int, default=1,
                        help="JUDGESERVE_WORKER_CHUNKS_IN_FLIGHT of the worker (chunk jobs it runs at once)")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    return parser.parse_args()


def text(rng: random.Random, chars: int, tag: str) -> str:
    """Unique, sentence-like text of about ``chars`` characters (unique so no call hits the cache)."""
    words = [tag]
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def make_body(n: int, chars: int, chunk_size: int, seed: int = 0) -> dict:
    """A pairwise evaluation of ``n`` distinct items; response lengths vary +-20% so outcomes vary."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        items.append({
            "id": f"item-{i:06d}",
            "prompt": text(rng, chars, f"Q{i}:"),
            "response_a": text(rng, int(chars * rng.uniform(0.8, 1.2)), f"A{i}:"),
            "response_b": text(rng, int(chars * rng.uniform(0.8, 1.2)), f"B{i}:"),
            "human_label": rng.choice("ab"),
        })
    return {"protocol": "pairwise", "judge": JUDGE, "model": "bench-candidate",
            "options": {"chunk_size": chunk_size}, "items": items}


def judges_file(directory: Path) -> Path:
    return h.write_judges_file(directory, [{"name": JUDGE, "backend": "scripted", "engine": {"policy": "longer"}}])


def submit(gw: h.Gateway, content: bytes) -> dict:
    """POST one evaluation (body already encoded); returns its id, chunk count and the seconds taken."""
    with gw.client(timeout=120.0) as client:
        created, seconds = h.post_evaluation(client, content)
    return {"id": created["id"], "seconds": seconds, "chunks": created["progress"]["chunks_total"]}


def measure_submission(gw: h.Gateway, contents: list[bytes], args: argparse.Namespace) -> dict:
    """A small warm-up POST (cancelled, so the worker skips its chunk), then one timed POST per body."""
    rss_idle = gw.child.rss_mb()
    warm = submit(gw, json.dumps(make_body(10, args.chars, args.chunk_size, seed=99)).encode())
    with gw.client() as client:
        client.post(f"/v1/evaluations/{warm['id']}/cancel").raise_for_status()
    runs = []
    for content in contents:
        runs.append(submit(gw, content))
        gw.child.sample()
    times = [run["seconds"] for run in runs]
    return {"ids": [run["id"] for run in runs], "chunks": runs[-1]["chunks"], "times": times,
            "seconds": statistics.median(times), "warm_up_s": warm["seconds"], "rss_idle_mb": rss_idle,
            "skipped_chunks": warm["chunks"]}


def run_worker(env: dict, log_dir: Path, gw: h.Gateway, evaluation_ids: list[str], timeout: float = 900) -> dict:
    """One burst worker until the queue is empty; the evaluation's own timestamps give the wall time."""
    child = h.start_worker(env, log_dir, JUDGE, burst=True)
    try:
        if not child.wait(timeout):
            raise RuntimeError(f"worker still running after {timeout:.0f} s:\n{child.log_tail()}")
    finally:
        child.stop(30)
    if child.returncode != 0:
        raise RuntimeError(f"worker exited with {child.returncode}:\n{child.log_tail()}")
    with gw.client() as client:
        finals = [client.get(f"/v1/evaluations/{i}").raise_for_status().json() for i in evaluation_ids]
    return {"finals": finals, "process_s": child.exited - child.started, "peak_mb": child.peak_mb,
            "spawned": child.started_wall}


def stored_counts(db_url: str, evaluation_id: str) -> dict:
    """What the worker persisted, and its first-claim / completion timestamps."""
    (started, completed, judgments, engine_calls, verdicts), = h.query(db_url, """
        SELECT e.started_at, e.completed_at,
               (SELECT count(*) FROM judgments j WHERE j.evaluation_id = e.id),
               (SELECT count(*) FROM judgments j WHERE j.evaluation_id = e.id AND NOT j.cached),
               (SELECT count(*) FROM verdicts v WHERE v.evaluation_id = e.id)
        FROM evaluations e WHERE e.id = %s""", (evaluation_id,))
    return {"started_at": started, "completed_at": completed, "judgments": judgments,
            "engine_calls": engine_calls, "verdicts": verdicts}


# ---------------------------------------------------------------- report


def report(n: int, body_mb: float, sub: dict, work: dict, stored_all: list[dict], gw_peak_mb: float) -> dict[str, bool]:
    """Print the measured numbers and ratios; returns target → met."""
    walls = [(stored["completed_at"] - stored["started_at"]).total_seconds() for stored in stored_all]
    rates = [stored["verdicts"] / wall for stored, wall in zip(stored_all, walls)]
    middle = sorted(range(len(rates)), key=rates.__getitem__)[len(rates) // 2]  # the median evaluation
    stored, wall, rate, final = stored_all[middle], walls[middle], rates[middle], work["finals"][middle]
    first_claim = (stored_all[0]["started_at"] - work["spawned"]).total_seconds()
    times = ", ".join(f"{t:.3f}" for t in sub["times"])
    print(f"\nsubmission: {n:,} items, {body_mb:.1f} MB JSON -> 202 in {sub['seconds']:.3f} s median of "
          f"{len(sub['times'])} ({times} s; {n / sub['seconds']:,.0f} items/s; {sub['chunks']} chunks queued each); "
          f"warm-up POST of 10 items {sub['warm_up_s']:.3f} s")
    print(f"worker: {len(rates)} evaluations judged one after the other; verdicts/s per evaluation "
          f"(first claim -> completed): {', '.join(f'{r:,.0f}' for r in rates)}")
    print(f"  median evaluation: {stored['verdicts']:,} verdicts + {stored['judgments']:,} judgments "
          f"({stored['engine_calls']:,} engine calls) persisted in {wall:.3f} s")
    print(f"  verdicts/s  {rate:10,.0f}   (median of {len(rates)})")
    print(f"  judgments/s {stored['judgments'] / wall:10,.0f}")
    print(f"  worker process {work['process_s']:.2f} s in all (start-up and skipping {sub['skipped_chunks']} "
          f"cancelled warm-up chunk(s) until the first claim {first_claim:.2f} s; exit after the last chunk included)")
    print(f"peak RSS: gateway {gw_peak_mb:,.0f} MiB (idle before the POST {sub['rss_idle_mb']:,.0f} MiB); "
          f"worker {work['peak_mb']:,.0f} MiB")
    summary = final.get("summary") or {}
    print(f"result: status {final['status']}, win_rate {summary.get('win_rate')}, "
          f"wins/ties/losses {summary.get('wins')}/{summary.get('ties')}/{summary.get('losses')}")
    complete = all(f["status"] == "completed" and s["verdicts"] == n and s["judgments"] == 2 * n
                   for f, s in zip(work["finals"], stored_all))
    met = {"complete": complete, "submit": sub["seconds"] <= TARGET_SUBMIT_S,
           "throughput": rate >= TARGET_VERDICTS_PER_S}
    print(f"\nratio measured/target, verdicts/s: {rate / TARGET_VERDICTS_PER_S:.2f} "
          f"(target >= {TARGET_VERDICTS_PER_S:,.0f}/s: {h.verdict(met['throughput'])})")
    print(f"ratio target/measured, submission:  {TARGET_SUBMIT_S / sub['seconds']:.2f} "
          f"(target <= {TARGET_SUBMIT_S:g} s: {h.verdict(met['submit'])})")
    print(f"every item of every evaluation judged in both orders and stored: {'yes' if complete else 'NO'}")
    return met


# ---------------------------------------------------------------- profiling (in this process)

WORKER_SPOTS = [  # (file suffix, function): the chunk job's phases and the calls inside them
    ("jobs/judge_chunk.py", "run"), ("jobs/judge_chunk.py", "_claim"), ("jobs/judge_chunk.py", "_load"),
    ("evaluations/chunk_queries.py", "items_in_range"),
    ("jobs/judge_chunk.py", "_missing_calls"), ("jobs/judge_chunk.py", "_from_cache"), ("core/judging.py", "cache_key"),
    ("judges/cache.py", "lookup"), ("jobs/judge_chunk.py", "_outputs"), ("backends/scripted.py", "generate"),
    ("jobs/judge_chunk.py", "_record"), ("jobs/judge_chunk.py", "_judgment_rows"),
    ("core/judging.py", "prompt_hash"), ("jobs/chunk_closing.py", "prepare"),
    ("evaluations/results.py", "verdict_row"), ("jobs/chunk_closing.py", "close"),
    ("repository.py", "add_judgments"), ("evaluations/repository.py", "call_results_by_item"),
    ("evaluations/results.py", "protocol_and_options"), ("evaluations/repository.py", "put_verdicts"),
    ("evaluations/chunk_queries.py", "complete_chunk"), ("evaluations/results.py", "finalize"),
    ("evaluations/repository.py", "items_with_verdicts"), ("pairwise/protocol.py", "summarize"),
    ("core/statistics.py", "bootstrap_mean_ci"), ("core/length_control.py", "lc_summary"),
    ("core/calibration.py", "reliability_report"), ("db/json_codec.py", "dumps"), ("db/json_codec.py", "loads"),
    ("db/conflict.py", "_unnest_insert"), ("sqlalchemy/orm/session.py", "commit"), ("psycopg/connection.py", "wait"),
]
SUBMIT_SPOTS = [
    ("json/__init__.py", "loads"), ("pydantic/main.py", "model_validate"), ("evaluations/pipeline.py", "submit"),
    ("evaluations/items.py", "feed"), ("evaluations/items.py", "validate_item"),
    ("evaluations/items.py", "first_bad_string"), ("evaluations/repository.py", "add_new_items"),
    ("sqlalchemy/orm/session.py", "commit"), ("evaluations/pipeline.py", "enqueue_or_withdraw"),
    ("evaluations/service.py", "get"), ("pydantic/main.py", "model_dump_json"),
]


def print_spots(stats: pstats.Stats, spots: list[tuple[str, str]], total: float) -> None:
    """Cumulative time of chosen functions, as seconds and share of the profiled total."""
    table = stats.stats  # type: ignore[attr-defined]
    print(f"    {'function':52} {'calls':>7} {'cum s':>8} {'share':>6}")
    for suffix, name in spots:
        rows = [v for (file, _, func), v in table.items() if func == name and file.endswith(suffix)]
        if rows:
            calls, cum = sum(r[1] for r in rows), sum(r[3] for r in rows)
            print(f"    {suffix + ':' + name:52} {calls:>7,} {cum:>8.3f} {cum / total:>6.0%}")


def print_top(stats: pstats.Stats, limit: int = 12) -> None:
    """Functions with the most own time."""
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]  # type: ignore[attr-defined]
    print(f"    {'own time (tottime) top ' + str(limit):60} {'calls':>9} {'own s':>7}")
    for (file, line, func), (_, calls, tottime, _, _) in rows:
        where = f"{'/'.join(Path(file).parts[-2:])}:{line}:{func}"
        print(f"    {where[-60:]:60} {calls:>9,} {tottime:>7.3f}")


def run_chunks(evaluation_id: str, chunks: int, profiler: cProfile.Profile | None) -> tuple[list[float], float]:
    """Run the real chunk job for every chunk in this process, in order.

    Returns seconds per chunk and the CPU seconds this process spent meanwhile (all its threads). With a
    closing writer, a chunk's seconds are its job's, and the last chunk's include waiting until the writer
    committed everything.
    """
    from workers import runtime
    from workers.jobs import judge_chunk

    seconds = []
    cpu_started = time.process_time()
    if profiler:
        profiler.enable()
    for index in range(chunks):
        started = time.perf_counter()
        judge_chunk.run(evaluation_id, index)
        if index == chunks - 1 and runtime.closing_writer() is not None:
            runtime.closing_writer().drain()
        seconds.append(time.perf_counter() - started)
    if profiler:
        profiler.disable()
    return seconds, time.process_time() - cpu_started


def profile_worker(gw: h.Gateway, settings, args: argparse.Namespace) -> None:
    """The chunk job in this process: once plain (rate without RQ or a process), once under cProfile.

    The garbage collector is tuned as a worker tunes it (``workers.gc_tuning``) and the plain run hands
    each chunk's closing to a closing writer as a worker does, so it does what a worker's chunk jobs do,
    without RQ between them. The profiled run closes each chunk in the job (cProfile sees one thread).
    """
    from workers import runtime
    from workers.gc_tuning import tune_for_worker

    runtime.configure(settings)
    tune_for_worker()
    runs = {}
    for seed, label, items in ((101, "warm-up", args.chunk_size), (102, "plain", args.profile_items),
                               (103, "cProfile", args.profile_items)):  # seeds unlike the timed bodies: no cache hits
        profiler = cProfile.Profile() if label == "cProfile" else None
        if label == "cProfile":
            runtime.stop_closing_writer()
        else:
            runtime.start_closing_writer()
        sub = submit(gw, json.dumps(make_body(items, args.chars, args.chunk_size, seed)).encode())
        h.flush_redis()  # its chunks run here, not from the queue
        runs[label] = (run_chunks(sub["id"], sub["chunks"], profiler), profiler)
    (chunks, cpu), ((profiled_chunks, _), profiler) = runs["plain"][0], runs["cProfile"]
    plain, profiled, typical = sum(chunks), sum(profiled_chunks), statistics.median(chunks[:-1] or chunks)
    print(f"\nprofile of the chunk job, in-process ({args.profile_items:,} items, chunk_size {args.chunk_size}, "
          f"no RQ, no worker process):")
    print(f"  plain {plain:.3f} s = {args.profile_items / plain:,.0f} verdicts/s: median chunk {typical * 1000:.0f} ms "
          f"({typical / args.chunk_size * 1000:.2f} ms per item), last chunk incl. finalize {chunks[-1]:.2f} s")
    print(f"  this process's CPU meanwhile (all threads): {cpu:.3f} s ({cpu / plain:.0%} of the wall time; the rest "
          f"waited for Postgres) = at most {args.profile_items / cpu:,.0f} verdicts/s even if every database wait "
          f"overlapped with work: one worker process is one Python thread at a time")
    body = make_body(args.profile_items, args.chars, args.chunk_size, 104)
    bound = min(protocol_bound(settings, body, args.chunk_size) for _ in range(2))
    print(f"  bound: the protocol's and the scripted judge's own work alone (no database, best of 2) takes "
          f"{bound:.3f} s = at most {args.profile_items / bound:,.0f} verdicts/s, whatever the database costs")
    print(f"  under cProfile {profiled:.3f} s (the profiler inflates Python-heavy parts; shares below are of this)")
    stats = pstats.Stats(profiler)
    print_spots(stats, WORKER_SPOTS, profiled)
    print_top(stats)


def protocol_bound(settings, body: dict, chunk_size: int) -> float:
    """The protocol's and the scripted judge's own work on a fresh body, with no database: seconds.

    Validate the items, plan (render) every call, hash each prompt, judge with the scripted backend,
    parse, combine each item's verdict and summarize, as the chunk job and finalize do, in this
    process. N / these seconds bounds a worker's rate whatever its database work costs.
    """
    from service.core.protocol import get_protocol
    from service.core.options import STORED
    from service.evaluations.results import as_item_verdict
    from workers.backends.scripted import ScriptedBackend

    protocol = get_protocol("pairwise")
    backend = ScriptedBackend(settings.judges()[JUDGE])
    started = time.perf_counter()
    options = protocol.options_model.model_validate(body["options"], context=STORED)
    items = [protocol.item_model.model_validate(item) for item in body["items"]]
    verdicts = []
    for start in range(0, len(items), chunk_size):
        chunk = items[start:start + chunk_size]
        planned = [(item, call) for item in chunk for call in protocol.plan_calls(item, options, [])]
        for _, call in planned:
            call.request.cache_key(backend.fingerprint)
        outputs = backend.generate([call.request for _, call in planned])
        results: dict[str, list] = {}
        for (item, call), output in zip(planned, outputs):
            results.setdefault(item.id, []).append(protocol.parse(call, output, options))
        verdicts += [protocol.combine(item, results[item.id], options) for item in chunk]
    protocol.summarize(items, [as_item_verdict(v) for v in verdicts], options)
    return time.perf_counter() - started


def bench_project(session) -> str:
    """The id of the project ``bench`` (the gateway's API key belongs to it)."""
    from service.projects import repository

    return (repository.get_project_by_name(session, "bench") or repository.add_project(session, "bench")).id


def submit_in_process(settings, dispatcher, content: bytes, profiler: cProfile.Profile | None = None) -> float:
    """What POST /v1/evaluations does (JSON, validation, insert, enqueue, response body); returns seconds."""
    from service.db.engine import session_scope
    from service.evaluations import service
    from service.evaluations.schemas import EvaluationCreate

    started = time.perf_counter()
    if profiler:
        profiler.enable()
    body = EvaluationCreate.model_validate(json.loads(content))
    with session_scope(settings.database_url) as session:
        project_id = bench_project(session)
        evaluation_id = service.submit(session, dispatcher, settings, body, project_id)
        service.get(session, settings, evaluation_id, project_id).model_dump_json()
    if profiler:
        profiler.disable()
    return time.perf_counter() - started


def profile_submit(settings, content: bytes, args: argparse.Namespace) -> None:
    """The gateway's submit path in this process: a small warm-up, then plain, then under cProfile."""
    from service.queue import RQDispatcher

    dispatcher, profiler = RQDispatcher(settings), cProfile.Profile()
    submit_in_process(settings, dispatcher, json.dumps(make_body(10, args.chars, args.chunk_size, 7)).encode())
    plain = submit_in_process(settings, dispatcher, content)
    total = submit_in_process(settings, dispatcher, content, profiler)
    dispatcher.close()
    h.flush_redis()
    print(f"\nprofile of the submit path, in-process ({args.items:,} items, no HTTP): plain {plain:.3f} s; "
          f"under cProfile {total:.3f} s")
    stats = pstats.Stats(profiler)
    print_spots(stats, SUBMIT_SPOTS, total)
    print_top(stats)


def profile(gw: h.Gateway, db_url: str, judges_path: Path, content: bytes, met: dict, args) -> None:
    """Profile whichever target was missed (both with --profile always)."""
    from service.config import Settings

    settings = Settings(database_url=db_url, redis_url=h.REDIS_URL, judges_file=judges_path)
    if args.profile == "always" or not met["submit"]:
        profile_submit(settings, content, args)
    if args.profile == "always" or not met["throughput"]:
        profile_worker(gw, settings, args)


# ---------------------------------------------------------------- main


def print_settings(args: argparse.Namespace, env: dict[str, str]) -> None:
    chunks = -(-args.items // args.chunk_size)
    print(f"settings: N={args.items:,} pairwise items (prompt and both responses ~{args.chars} chars, unique), "
          f"orders both x samples 1 = 2 judge calls per item, chunk_size {args.chunk_size} ({chunks} chunks), "
          f"judge-call cache on (default; 0 hits expected), judge {JUDGE!r} = scripted backend {{policy: longer}}, "
          f"log level INFO (default); 1 gateway = 1 uvicorn process (access log off), {args.submissions} timed "
          f"POSTs of different N-item bodies after a 10-item warm-up; 1 worker `python -m workers --judge {JUDGE} "
          f"--burst` started after the submissions judges all {args.submissions}, {args.in_flight} chunk(s) in "
          f"flight; env: {h.env_summary(env)}", flush=True)


def measure(args: argparse.Namespace, db_url: str) -> dict[str, bool]:
    """Gateway up, submit, one burst worker, report (and profile when a target is missed)."""
    with tempfile.TemporaryDirectory(prefix="judgeserve-bench-pipe-") as tmp:
        log_dir = Path(tmp)
        judges_path = judges_file(log_dir)
        env = h.service_env(db_url, judges_path)
        if args.in_flight != 1:
            env["JUDGESERVE_WORKER_CHUNKS_IN_FLIGHT"] = str(args.in_flight)
        contents = [json.dumps(make_body(args.items, args.chars, args.chunk_size, seed)).encode()
                    for seed in range(args.submissions)]
        content = contents[0]
        print_settings(args, env)
        with h.gateway(env, log_dir) as gw:
            sub = measure_submission(gw, contents, args)
            work = run_worker(env, log_dir, gw, sub["ids"])
            stored = [stored_counts(db_url, evaluation_id) for evaluation_id in sub["ids"]]
            gw.child.sample()
            met = report(args.items, len(content) / 1e6, sub, work, stored, gw.child.peak_mb)
            if args.profile == "always" or (args.profile == "auto" and not all(met.values())):
                profile(gw, db_url, judges_path, content, met, args)
        return met


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    print("machine:\n  " + "\n  ".join(h.machine_info()), flush=True)
    db_url = h.recreate_database()
    h.flush_redis()
    try:
        met = measure(args, db_url)
    finally:
        h.flush_redis()
        if not args.keep_db:
            h.drop_database()
    ok = all(met.values())
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {'all targets met' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
