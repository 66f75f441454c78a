"""bench/overhead.py, side (b): the real gateway and one long-running worker, and where the wall time
of each timed evaluation went (from the timestamps the service stores).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from bench.vllm_common import (DB_NAME, REDIS_URL, child_pids, cpu_groups, cpu_share, cpu_snapshot, item_set,
                               wait_for_memory, warmup_items)

JUDGE = "embedded"


def evaluate(harness, client, items: list[dict], chunk_size: int, procs: list, poll: float,
             idle: dict[str, int] | None = None) -> dict:
    """POST one evaluation and poll until it ends; wall time from POST to the observed ``completed``.

    ``procs`` = [gateway, worker] (harness children); CPU of their process trees and of this
    process (with its other children, e.g. ``idle``: name -> pid) counts as ours.
    """
    body = {"protocol": "pairwise", "judge": JUDGE, "model": "llmbar-output-1", "items": items,
            "options": {"chunk_size": chunk_size, "cache": False}}
    content = json.dumps(body).encode()
    roots = [child.pid for child in procs] + [os.getpid()]
    groups = process_groups(procs[0].pid, procs[-1].pid, idle or {})
    split0 = cpu_groups(groups)[1]
    cpu0, wall0, start = cpu_snapshot(roots), time.time(), time.perf_counter()
    created, post_s = harness.post_evaluation(client, content)
    final = harness.wait_terminal(client, created["id"], timeout=900, interval=poll, watch=procs[-1])
    elapsed, wall1 = time.perf_counter() - start, time.time()
    cpu = cpu_share(cpu0, cpu_snapshot(roots), elapsed)
    split1 = cpu_groups(groups)[1]
    progress = final["progress"]
    if final["status"] != "completed" or progress["failed"]:
        raise RuntimeError(f"evaluation {created['id']} ended {final['status']}: {final}")
    return {"id": created["id"], "elapsed": elapsed, "post_s": post_s, "wall0": wall0, "wall1": wall1,
            "final": final, "cpu": cpu, "cpu_split": {name: split1[name] - split0[name] for name in groups}}


def process_groups(gateway_pid: int, worker_pid: int, idle: dict[str, int]) -> dict[str, list[int]]:
    """Our processes by role: the worker's children (its engine and delivery processes), the worker's own process, the
    gateway, ``idle`` ones, and this client (a process counts in the first group whose tree holds it)."""
    return {"worker engine (+ deliveries)": child_pids(worker_pid), "worker": [worker_pid], "gateway": [gateway_pid],
            **{name: [pid] for name, pid in idle.items()}, "client": [os.getpid()]}


class ServiceSide:
    """(b): the real gateway and one long-running worker; ``evaluate(set)`` times one evaluation of a set."""

    def __init__(self, harness, args: argparse.Namespace, client, procs: list, ready_s: float, idle: dict[str, int]):
        self.harness, self.args, self.client, self.procs, self.ready_s = harness, args, client, procs, ready_s
        self.idle = idle
        self.timed: list[dict] = []

    def evaluate(self, index: int) -> dict:
        """One timed evaluation of item set ``index`` (``{"chunk_size": N, "cache": false}``)."""
        timed = evaluate(self.harness, self.client, item_set(index, self.args.n), self.args.n, self.procs,
                         self.args.poll, self.idle)
        timed |= {"set": index, "judgments": fetch_judgments(self.client, timed["id"])}
        self.timed.append(timed)
        return timed


@contextmanager
def service_side(harness, args: argparse.Namespace, log_dir: Path, idle: dict[str, int]) -> Iterator[ServiceSide]:
    """Start (b) in a fresh database and Redis DB, warm it up (one 2-item evaluation), yield it; on exit, read what
    the service stored about each timed evaluation. ``idle``: other children (name -> pid), reported apart."""
    db_url = harness.recreate_database(DB_NAME)
    harness.flush_redis(REDIS_URL)
    cache = {"model_cache_dir": args.model_cache_dir} if args.model_cache_dir else {}
    env = harness.service_env(db_url, **cache)
    wait_for_memory(harness)
    with harness.gateway(env, log_dir) as gw, gw.client(timeout=60) as client:
        with harness.worker(env, log_dir, JUDGE) as worker:
            ready_s = harness.wait_judge_available(client, JUDGE, 900, worker)
            side = ServiceSide(harness, args, client, [gw.child, worker], ready_s, idle)
            evaluate(harness, client, warmup_items(), 2, side.procs, args.poll)
            yield side
    for timed in side.timed:
        timed["db"] = harness.query(db_url, "SELECT count(*), sum(latency_ms), min(created_at), "
                                    "sum(prompt_tokens) FROM judgments WHERE evaluation_id = %s", (timed["id"],))[0]
        timed["verdicts_at"] = harness.query(db_url, "SELECT max(created_at) FROM verdicts WHERE evaluation_id = %s",
                                             (timed["id"],))[0][0]
        timed["rq"] = rq_times(timed["id"])


def fetch_judgments(client, evaluation_id: str) -> dict:
    """{item/order: (raw_output, prompt_hash)} from the verdicts API."""
    out, cursor = {}, None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params=params).raise_for_status().json()
        for verdict in page["data"]:
            for j in verdict["judgments"]:
                out[f"{verdict['item_id']}/{j['order']}"] = (j["raw_output"], j["prompt_hash"])
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def rq_times(evaluation_id: str) -> dict:
    """The RQ job's enqueued/started/ended times (epoch seconds) for chunk 0."""
    from redis import Redis
    from rq.job import Job

    job = Job.fetch(f"judge-chunk_{evaluation_id}_0", connection=Redis.from_url(REDIS_URL))
    return {k: epoch(getattr(job, k)) for k in ("enqueued_at", "started_at", "ended_at")}


def epoch(value) -> float | None:
    """Epoch seconds of an ISO string or datetime (naive = UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def breakdown(timed: dict) -> list[tuple[str, float]]:
    """Where one evaluation's wall time went, from the stored timestamps (seconds)."""
    final, rq = timed["final"], timed["rq"]
    created, started, completed = (epoch(final[k]) for k in ("created_at", "started_at", "completed_at"))
    rows_at, engine_s = epoch(timed["db"][2]), (timed["db"][1] or 0) / 1000
    verdicts_at = epoch(timed["verdicts_at"])
    return [
        ("POST until the evaluation row is stamped", created - timed["wall0"]),
        ("rest of POST, enqueue, RQ pickup, up to the chunk claim", started - created),
        ("  of which RQ enqueued -> job started", (rq["started_at"] or 0) - (rq["enqueued_at"] or 0)),
        ("worker: claim + render + parse (claim -> rows, minus engine)", rows_at - started - engine_s),
        ("worker: llm.generate (sum of stored latency_ms)", engine_s),
        ("worker: store judgments, read back, compute verdicts", verdicts_at - rows_at),
        ("worker: store verdicts + progress, finalize (bootstrap CI)", completed - verdicts_at),
        ("completed -> seen by the poll", timed["wall1"] - completed),
    ]
