"""Benchmark: leaderboard GET latency at ~1,000,000 stored judgments vs ~1,000 (not a test).

Target: the median latency ratio large/small stays under 2, for both the 200 path and the
If-None-Match → 304 path (a leaderboard read is one snapshot lookup; it must not grow with history).

Two databases, two identical gateways (the real ``uvicorn --factory service.api.app:app_from_env``):
``judgeserve_bench_small`` holds only the small history and ``judgeserve_bench`` holds the 1M one, so
a read that scanned whole tables could not hide behind a shared database. Both suites have the same
models (same leaderboard size); only the number of items per evaluation differs. Requests alternate
small/large (order reversed every round) so drift on the shared machine hits both alike.

Run: .venv/bin/python bench/leaderboard_latency.py   (see bench/README.md). Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import leaderboard_history_sql as sql  # noqa: E402
from service.db.engine import dispose_all, session_scope  # noqa: E402
from service.db.migrate import upgrade  # noqa: E402
from service.leaderboards.snapshot import refresh  # noqa: E402
from service.models.project import DEFAULT_PROJECT_ID, DEFAULT_PROJECT_NAME  # noqa: E402
from service.projects.service import create_key  # noqa: E402

ADMIN_URL = os.environ.get("JUDGESERVE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("JUDGESERVE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
JUDGE = "embedded"
PROTOCOL = "pairwise"
FINGERPRINT = "vllm:bundled:smollm2-135m-instruct@main:v1:0123456789abcdef"
T0 = "2026-01-01T00:00:00+00:00"
TARGET_RATIO = 2.0


@dataclass
class Side:
    """One history: its suite name, database, size, and (once measured) gateway and ETag."""

    label: str
    database: str
    n_items: int
    url: str = ""
    base_url: str = ""
    etag: str = ""
    judgments: int = 0
    api_key: str = ""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100, help="evaluations per suite (m000.. vs 'ref')")
    parser.add_argument("--small-items", type=int, default=5, help="items per evaluation, small suite")
    parser.add_argument("--large-items", type=int, default=5000, help="items per evaluation, large suite")
    parser.add_argument("--requests", type=int, default=300, help="measured GETs per variant")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured GETs per variant first")
    parser.add_argument("--reuse", action="store_true",
                        help="keep existing bench databases if they already hold a snapshot (skips fill + refresh)")
    return parser.parse_args()


def database_url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(name: str) -> None:
    with psycopg.connect(psycopg_url(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def has_snapshot(side: Side) -> bool:
    try:
        with psycopg.connect(psycopg_url(side.url)) as conn:
            row = conn.execute("SELECT count(*) FROM leaderboard_snapshots WHERE suite = %s", (side.label,)).fetchone()
            return row[0] > 0
    except psycopg.Error:
        return False


def fill_history(side: Side, n_models: int) -> float:
    """Insert the suite's whole history with set-based SQL in one transaction; returns seconds."""
    params = {"suite": side.label, "judge": JUDGE, "n_models": n_models, "n_items": side.n_items,
              "fingerprint": FINGERPRINT, "t0": T0, "project": DEFAULT_PROJECT_ID}
    started = time.perf_counter()
    with psycopg.connect(psycopg_url(side.url)) as conn:
        conn.execute("SET synchronous_commit = off")
        for statement in sql.FUNCTIONS:
            conn.execute(statement)
        for name, statement in sql.FILL_STEPS:
            step = time.perf_counter()
            rows = conn.execute(statement, params).rowcount
            print(f"    {side.label:5} {name:12} {rows:>9,} rows  {time.perf_counter() - step:6.1f} s", flush=True)
        conn.commit()
    with psycopg.connect(psycopg_url(side.url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum would have done by the time anyone polls
    return time.perf_counter() - started


def count_history(side: Side) -> dict[str, int]:
    with psycopg.connect(psycopg_url(side.url)) as conn:
        row = conn.execute(sql.COUNTS, {"suite": side.label}).fetchone()
    keys = ("evaluations", "items", "judgments", "verdicts", "judgments_in_db", "db_bytes")
    return dict(zip(keys, row))


def refresh_snapshot(side: Side) -> float:
    """Compute and store the suite's snapshot with the service's own code; returns seconds."""
    started = time.perf_counter()
    with session_scope(side.url) as session:
        refresh(session, DEFAULT_PROJECT_ID, side.label, PROTOCOL, JUDGE)
    return time.perf_counter() - started


def prepare(side: Side, args: argparse.Namespace) -> None:
    side.url = database_url(side.database)
    if args.reuse and has_snapshot(side):
        print(f"  {side.label}: reusing database {side.database}")
    else:
        recreate_database(side.database)
        upgrade(side.url)
        print(f"  {side.label}: filling {side.database} "
              f"({args.models} evaluations x {side.n_items:,} items x 2 orders)")
        print(f"  {side.label}: filled in {fill_history(side, args.models):.1f} s", flush=True)
        print(f"  {side.label}: snapshot refresh took {refresh_snapshot(side):.2f} s "
              "(information only: aggregation grows with history)", flush=True)
    with session_scope(side.url) as session:  # the history belongs to the default project (migration 0005)
        side.api_key = create_key(session, DEFAULT_PROJECT_NAME, "leaderboard-latency bench").key
    counts = count_history(side)
    side.judgments = counts["judgments"]
    print(f"  {side.label}: counted " + ", ".join(f"{k}={v:,}" for k, v in counts.items()), flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gateway(side: Side) -> Iterator[None]:
    """The real gateway as a subprocess on a free port; always stopped on exit."""
    port = free_port()
    env = dict(os.environ, JUDGESERVE_DATABASE_URL=side.url, JUDGESERVE_REDIS_URL=REDIS_URL,
               JUDGESERVE_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "uvicorn", "--factory", "service.api.app:app_from_env",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            side.base_url = f"http://127.0.0.1:{port}"
            wait_ready(process, side.base_url, log)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(process: subprocess.Popen, base_url: str, log, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gateway exited with {process.returncode}:\n{log.read().decode(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway at {base_url} not ready after {timeout:.0f} s")


def leaderboard_path(side: Side) -> str:
    return f"/v1/leaderboards/{side.label}?judge={JUDGE}"


def first_read(client: httpx.Client, side: Side, n_models: int) -> int:
    """Check the leaderboard is served in full; remember its ETag; return the body size."""
    response = client.get(leaderboard_path(side))
    response.raise_for_status()
    rows = response.json()["rows"]
    if len(rows) != n_models:
        raise RuntimeError(f"{side.label}: expected {n_models} leaderboard rows, got {len(rows)}")
    side.etag = response.headers["etag"]
    return len(response.content)


def timed_get(client: httpx.Client, side: Side, conditional: bool) -> float:
    """One GET in milliseconds; fails unless it answered 200 (or 304 when conditional)."""
    headers = {"If-None-Match": side.etag} if conditional else {}
    started = time.perf_counter_ns()
    response = client.get(leaderboard_path(side), headers=headers)
    _ = response.content
    elapsed = (time.perf_counter_ns() - started) / 1e6
    expected = 304 if conditional else 200
    if response.status_code != expected:
        raise RuntimeError(f"{side.label}: expected {expected}, got {response.status_code}: {response.text[:300]}")
    return elapsed


def measure(clients: dict[str, httpx.Client], sides: list[Side], rounds: int, warmup: int) -> dict:
    """Interleaved rounds over (side × path); the order is reversed every other round."""
    variants = [(side, conditional) for conditional in (False, True) for side in sides]
    samples: dict[tuple[str, bool], list[float]] = {(s.label, c): [] for s, c in variants}
    for round_index in range(warmup + rounds):
        ordered = variants if round_index % 2 == 0 else variants[::-1]
        for side, conditional in ordered:
            elapsed = timed_get(clients[side.label], side, conditional)
            if round_index >= warmup:
                samples[(side.label, conditional)].append(elapsed)
    return samples


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def machine_info() -> list[str]:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")
    with psycopg.connect(psycopg_url(ADMIN_URL)) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"CPUs: {os.cpu_count()} ({usable} usable), {cpu_model}; load average {load}",
            f"Python {platform.python_version()} on {platform.platform()}",
            f"PostgreSQL {pg_version} at {make_url(ADMIN_URL).host}:{make_url(ADMIN_URL).port}; Redis {REDIS_URL}"]


def report(samples: dict, sides: list[Side], sizes: dict[str, int]) -> bool:
    """Print the latency table and the ratios; True when every target is met."""
    small, large = sides
    print(f"\n{'path':24} {'judgments':>11} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'body B':>8}")
    for conditional, name in ((False, "200 (full body)"), (True, "304 (If-None-Match)")):
        for side in sides:
            values = samples[(side.label, conditional)]
            body = 0 if conditional else sizes[side.label]
            print(f"{name + ' ' + side.label:24} {side.judgments:>11,} {len(values):>5} "
                  f"{statistics.median(values):>10.3f} {p95(values):>8.3f} {body:>8,}")
    ok = True
    print()
    for conditional, name in ((False, "200"), (True, "304")):
        ratio = statistics.median(samples[(large.label, conditional)]) / statistics.median(
            samples[(small.label, conditional)])
        p95_ratio = p95(samples[(large.label, conditional)]) / p95(samples[(small.label, conditional)])
        met = ratio < TARGET_RATIO
        ok &= met
        print(f"ratio large/small, {name} path: median {ratio:.2f} (target < {TARGET_RATIO:g}: "
              f"{'met' if met else 'MISSED'}); p95 {p95_ratio:.2f} (information)")
    return ok


def run(args: argparse.Namespace) -> bool:
    sides = [Side("small", "judgeserve_bench_small", args.small_items),
             Side("large", "judgeserve_bench", args.large_items)]
    print("machine:\n  " + "\n  ".join(machine_info()))
    print(f"settings: {args.models} completed pairwise evaluations per suite (m000.. vs 'ref'), judge {JUDGE!r}, "
          f"items per evaluation small={args.small_items:,} large={args.large_items:,}, 2 orders x 1 sample; "
          f"{args.requests} measured + {args.warmup} warm-up GETs per variant, interleaved; httpx keep-alive; "
          f"1 uvicorn worker per gateway, access log off")
    print("data:", flush=True)
    for side in sides:
        prepare(side, args)
    dispose_all()
    with ExitStack() as stack:
        for side in sides:
            stack.enter_context(gateway(side))
        clients = {s.label: stack.enter_context(httpx.Client(base_url=s.base_url, timeout=30.0,
                                                             headers={"Authorization": f"Bearer {s.api_key}"}))
                   for s in sides}
        sizes = {s.label: first_read(clients[s.label], s, args.models) for s in sides}
        samples = measure(clients, sides, args.requests, args.warmup)
    return report(samples, sides, sizes)


def main() -> int:
    started = time.perf_counter()
    ok = run(parse_args())
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {'all targets met' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
