"""Benchmark: the production gateway under a CI fleet's burst of submissions and polls (not a test).

Targets (issue 18): **0 responses 500**, ``/healthz`` p99 under 200 ms during the run, and p99 under
2 s for the 202s of ``POST /v1/evaluations``; afterwards every accepted evaluation has completed with
each item judged exactly once (one verdict, one non-cached judgment per order). Exit 1 when a target
is missed.

Everything runs for real on loopback: a fresh, migrated Postgres database (``judgeserve_bench_load``),
the bench's Redis database (``JUDGESERVE_BENCH_REDIS_URL``, default db 11, flushed), ``--gateways``
gateway processes (``uvicorn --factory service.api.app:app_from_env``, default 1) and ``--workers``
judge workers (``python -m workers --judge scripted``, default 1; the scripted judge answers at once).

Load, for ``--duration`` seconds (60):

- ``--submitters`` async clients (300) each POST small pairwise evaluations (``--items`` items of one
  suite, unique responses so the judge-call cache never answers) back to back, each with its own
  ``Idempotency-Key``. A 503 or 429 is retried with the same key after ``Retry-After`` (plus jitter),
  a 409 (same key still in progress), a timeout or a dropped connection after 1 s.
- ``--pollers`` async clients (100) alternate ``GET /v1/leaderboards/{suite}`` and
  ``GET /v1/evaluations/{id}`` of an accepted evaluation, ``--poll-interval`` s apart.
- A separate process GETs ``/healthz`` every ``--health-interval`` s (its own event loop, so the load
  generator's loop lag does not count as the gateway's).

The clients are spread over ``--client-processes`` processes (4), each client with an HTTP connection of
its own, as a fleet's machines would be. Then it stops submitting, waits up to ``--drain-timeout`` s for
the accepted evaluations to end, and checks them in the database. The clients share the 2 CPUs with
the gateway, the worker and Postgres: their latencies include the client's own scheduling delay, which
the report shows (event-loop lag) beside the gateway's own time of each 202 (``Server-Timing``).

Run: .venv/bin/python bench/load.py [--quick]   (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import ssl
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("JUDGESERVE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bench import harness as h  # noqa: E402

DATABASE = os.environ.get("JUDGESERVE_BENCH_LOAD_DB", "judgeserve_bench_load")
JUDGE = "scripted"
SUITE = "load"
MODELS = 20  # submitters share this many model names, so leaderboards stay a readable size
TARGET_HEALTH_P99_S = 0.2
TARGET_ACCEPTED_P99_S = 2.0
RETRYABLE = {409, 429, 503}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--submitters", type=int, default=300, help="concurrent clients submitting evaluations")
    parser.add_argument("--pollers", type=int, default=100, help="concurrent clients polling leaderboards/status")
    parser.add_argument("--items", type=int, default=5, help="items per submitted evaluation")
    parser.add_argument("--suites", type=int, default=10,
                        help="suites the submissions spread over (each completion refreshes its suite's leaderboard)")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between one poller's GETs")
    parser.add_argument("--health-interval", type=float, default=0.1, help="seconds between /healthz probes")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="client timeout per request (s)")
    parser.add_argument("--client-processes", type=int, default=4,
                        help="processes the clients are spread over (each its own event loop)")
    parser.add_argument("--gateways", type=int, default=1, help="gateway processes (clients spread over them)")
    parser.add_argument("--workers", type=int, default=1, help="scripted judge workers")
    parser.add_argument("--drain-timeout", type=float, default=900.0,
                        help="seconds to wait for accepted evaluations to end after the load")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="extra gateway setting, e.g. POOLS__MAX_IN_FLIGHT=32 (becomes JUDGESERVE_NAME)")
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run: 15 s, 60 submitters, 20 pollers (unless given explicitly)")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args(argv)
    if args.quick:
        given = set(argv if argv is not None else sys.argv[1:])
        for flag, value in (("--duration", 15.0), ("--submitters", 60), ("--pollers", 20)):
            if flag not in given:
                setattr(args, flag[2:], value)
    return args


# ---------------------------------------------------------------- what the clients record


@dataclass
class Record:
    """Every response (or failure) the clients saw, by kind of request."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter] = field(default_factory=dict)
    accepted_latencies: list[float] = field(default_factory=list)
    accepted_server: list[float] = field(default_factory=list)  # the gateway's own time (Server-Timing)
    accepted: set[str] = field(default_factory=set)
    gave_up: int = 0  # submissions still unanswered when the load ended
    loop_lag: list[float] = field(default_factory=list)

    cpu_seconds: float = 0.0  # the client processes' CPU time

    def add(self, kind: str, status: int | str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.statuses.setdefault(kind, Counter())[status] += 1

    def merge(self, other: "Record") -> None:
        """Add another client process's record to this one."""
        for kind, values in other.latencies.items():
            self.latencies.setdefault(kind, []).extend(values)
        for kind, counts in other.statuses.items():
            self.statuses.setdefault(kind, Counter()).update(counts)
        self.accepted_latencies += other.accepted_latencies
        self.accepted_server += other.accepted_server
        self.accepted |= other.accepted
        self.gave_up += other.gave_up
        self.loop_lag += other.loop_lag
        self.cpu_seconds += other.cpu_seconds


async def timed(client: httpx.AsyncClient, record: Record, kind: str, method: str, url: str,
                **kwargs) -> httpx.Response | None:
    """One request; its status (or the transport error's name) and latency go to ``record``."""
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        record.add(kind, "timeout", time.perf_counter() - started)
        return None
    except httpx.TransportError as exc:
        record.add(kind, type(exc).__name__, time.perf_counter() - started)
        return None
    record.add(kind, response.status_code, time.perf_counter() - started)
    return response


def server_seconds(response: httpx.Response) -> float | None:
    """The gateway's own time for a response (``Server-Timing: app;dur=<ms>``), when it says."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "app" and duration:
            return float(duration) / 1000
    return None


def retry_delay(response: httpx.Response | None, rng: random.Random) -> float:
    """Seconds to wait before retrying: Retry-After (at least 1 s), plus up to as much again of jitter."""
    value = response.headers.get("retry-after", "1") if response is not None else "1"
    base = max(1.0, float(value)) if value.replace(".", "", 1).isdigit() else 1.0
    return base + rng.uniform(0, base)


def suite_name(client_no: int, args) -> str:
    return f"{SUITE}-{client_no % args.suites}"


def evaluation_body(client_no: int, seq: int, args, rng: random.Random) -> dict:
    """A small pairwise evaluation on a suite; unique responses, lengths around the baseline's."""
    tag = f"c{client_no}s{seq}"
    items = [{"id": f"q{i}", "response": f"{tag} answer {i} " + "x" * rng.randint(10, 40)} for i in range(args.items)]
    return {"protocol": "pairwise", "judge": JUDGE, "model": f"model-{client_no % MODELS:02d}",
            "suite": suite_name(client_no, args), "items": items}


async def submitter(client_no: int, client: httpx.AsyncClient, base: str, deadline: float, args, record: Record):
    """POST evaluations back to back until the deadline; retry each with its key as the server asks."""
    rng = random.Random(client_no)
    await asyncio.sleep(rng.uniform(0, 0.5))  # the fleet does not start in one microsecond
    seq = 0
    while time.monotonic() < deadline:
        body, key, seq = evaluation_body(client_no, seq, args, rng), str(uuid.uuid4()), seq + 1
        while True:
            started = time.perf_counter()
            response = await timed(client, record, "submit", "POST", f"{base}/v1/evaluations", json=body,
                                   headers={"Idempotency-Key": key})
            if response is not None and response.status_code == 202:
                record.accepted.add(response.json()["id"])
                record.accepted_latencies.append(time.perf_counter() - started)
                spent = server_seconds(response)
                if spent is not None:
                    record.accepted_server.append(spent)
                break
            if response is not None and response.status_code not in RETRYABLE:
                break  # counted; a 4xx/5xx other than those is a finding, not something to retry
            if time.monotonic() >= deadline:
                record.gave_up += 1
                return
            await asyncio.sleep(retry_delay(response, rng))


async def poller(client_no: int, client: httpx.AsyncClient, base: str, deadline: float, args, record: Record):
    """Alternate leaderboard and evaluation-status GETs until the deadline."""
    rng = random.Random(10_000 + client_no)
    await asyncio.sleep(rng.uniform(0, args.poll_interval))
    turn = client_no
    while time.monotonic() < deadline:
        turn += 1
        if turn % 2 or not record.accepted:
            response = await timed(client, record, "leaderboard", "GET",
                                   f"{base}/v1/leaderboards/{suite_name(client_no + turn, args)}",
                                   params={"protocol": "pairwise", "judge": JUDGE})
        else:
            evaluation_id = rng.choice(tuple(record.accepted))
            response = await timed(client, record, "status", "GET", f"{base}/v1/evaluations/{evaluation_id}")
        wait = args.poll_interval
        if response is None or response.status_code in RETRYABLE:
            wait = max(wait, retry_delay(response, rng))
        await asyncio.sleep(wait)


async def loop_lag_probe(deadline: float, record: Record, interval: float = 0.05) -> None:
    """How late this process's event loop wakes up: the client side's share of measured latency."""
    while time.monotonic() < deadline:
        started = time.perf_counter()
        await asyncio.sleep(interval)
        record.loop_lag.append(time.perf_counter() - started - interval)


async def run_load(bases: list[str], api_key: str, args, share: int, start_at: float) -> Record:
    """This process's share of the clients (every ``--client-processes``-th), from ``start_at`` (epoch s)
    for ``--duration`` s; returns what they saw.

    Each client has an HTTP client (and connection) of its own, as a fleet's machines would: one shared
    pool of 400 connections made httpcore scan them all at every request, and the bench its own bottleneck.
    """
    record = Record()
    tls = ssl.create_default_context()  # built once: httpx would build one per client (plain HTTP needs none)
    mine = range(share, args.submitters + args.pollers, args.client_processes)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + args.duration
    async with AsyncExitStack() as stack:
        def client() -> httpx.AsyncClient:
            return httpx.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}, verify=tls,
                                     timeout=args.request_timeout, limits=httpx.Limits(max_connections=1))

        tasks = []
        for n in mine:
            http = await stack.enter_async_context(client())
            if n < args.submitters:
                tasks.append(submitter(n, http, bases[n % len(bases)], deadline, args, record))
            else:
                poller_no = n - args.submitters
                tasks.append(poller(poller_no, http, bases[poller_no % len(bases)], deadline, args, record))
        tasks.append(loop_lag_probe(deadline, record))
        await asyncio.gather(*tasks)
    return record


def client_process(bases: list[str], api_key: str, args, share: int, start_at: float, results) -> None:
    """One client process: its share of the clients on an event loop of its own; sends its Record back."""
    record = run_event_loop(run_load(bases, api_key, args, share, start_at))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record.cpu_seconds = usage.ru_utime + usage.ru_stime
    results.put(record)


def run_event_loop(main):
    """Run the clients on uvloop when it is installed (it comes with uvicorn[standard]): less client CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def health_probe(base: str, interval: float, duration: float, results, start_at: float) -> None:
    """In its own process: GET /healthz every ``interval`` s for ``duration`` s; (status, seconds) each."""
    samples = []
    time.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + duration
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status = client.get(f"{base}/healthz").status_code
            except httpx.TimeoutException:
                status = "timeout"
            except httpx.TransportError as exc:
                status = type(exc).__name__
            samples.append((status, time.perf_counter() - started))
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))
    results.put(samples)


# ---------------------------------------------------------------- set-up and checks


def make_suites(client: httpx.Client, args) -> None:
    """The suites the submissions refer to (their baseline responses are 25 characters long)."""
    items = [{"id": f"q{i}", "prompt": f"Question {i}: say something useful.", "baseline_response": "b" * 25}
             for i in range(args.items)]
    for n in range(args.suites):
        client.post("/v1/suites", json={"name": suite_name(n, args), "baseline_model": "baseline",
                                        "items": items}).raise_for_status()


def unfinished(db_url: str, ids: list[str]) -> int:
    """How many of ``ids`` have not ended yet."""
    return h.query(db_url, "SELECT count(*) FROM evaluations WHERE id = ANY(%s) AND status NOT IN "
                           "('completed', 'failed', 'cancelled')", (ids,))[0][0]


def drain(db_url: str, ids: list[str], timeout: float, workers: list[h.Child]) -> float:
    """Wait until every accepted evaluation has ended; returns the seconds it took (or the timeout)."""
    started = time.monotonic()
    while ids and time.monotonic() - started < timeout:
        if unfinished(db_url, ids) == 0:
            break
        for child in workers:
            if child.poll():
                raise RuntimeError(f"{child.name} exited with {child.returncode}:\n{child.log_tail()}")
        time.sleep(1.0)
    return time.monotonic() - started


def check_database(db_url: str, ids: list[str], n_items: int) -> dict:
    """Evaluations that did not complete exactly right, and evaluations nobody was told about."""
    rows = h.query(db_url, """
        SELECT e.id, e.status, e.total, e.done, e.failed,
               (SELECT count(*) FROM items i WHERE i.evaluation_id = e.id),
               (SELECT count(*) FROM verdicts v WHERE v.evaluation_id = e.id),
               (SELECT count(DISTINCT v.item_id) FROM verdicts v WHERE v.evaluation_id = e.id),
               (SELECT count(*) FROM judgments j WHERE j.evaluation_id = e.id AND NOT j.cached),
               (SELECT count(DISTINCT (j.item_id, j."order")) FROM judgments j WHERE j.evaluation_id = e.id)
        FROM evaluations e WHERE e.id = ANY(%s)""", (ids,))
    found = {row[0] for row in rows}
    wrong = []
    for eid, status, total, done, failed, items, verdicts, judged_items, fresh, pairs in rows:
        if (status, total, done, failed, items, verdicts, judged_items, fresh, pairs) != (
                "completed", n_items, n_items, 0, n_items, n_items, n_items, 2 * n_items, 2 * n_items):
            wrong.append((eid, status, total, done, failed, items, verdicts, judged_items, fresh, pairs))
    all_ids = {row[0] for row in h.query(db_url, "SELECT id FROM evaluations")}
    stuck_keys = h.query(db_url, "SELECT count(*) FROM idempotency_keys WHERE status = 'in_progress'")[0][0]
    return {"missing": sorted(set(ids) - found), "wrong": wrong, "unannounced": sorted(all_ids - set(ids)),
            "stuck_keys": stuck_keys, "checked": len(rows)}


# ---------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered))) - 1))]


def latency_line(label: str, values: list[float], statuses: Counter | None = None) -> str:
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))) if statuses else ""
    return (f"  {label:22} n={len(values):>7,}  p50 {pct(values, 50) * 1000:8.1f} ms  p95 {pct(values, 95) * 1000:8.1f} ms"
            f"  p99 {pct(values, 99) * 1000:8.1f} ms  max {max(values, default=float('nan')) * 1000:8.1f} ms"
            + (f"   [{counts}]" if counts else ""))


def report(record: Record, wall: float, health: list[tuple], drained_s: float, check: dict, args,
           peaks: dict[str, float], client_cpu_s: float) -> dict[str, bool]:
    """Print the figures; returns target → met."""
    total = sum(sum(c.values()) for c in record.statuses.values())
    print(f"\nload: {wall:.1f} s, {args.submitters} submitters + {args.pollers} pollers over "
          f"{args.gateways} gateway(s), {args.workers} worker(s); {total:,} responses = {total / wall:,.1f} requests/s")
    all_statuses: Counter = Counter()
    for kind in ("submit", "status", "leaderboard"):
        all_statuses.update(record.statuses.get(kind, Counter()))
        print(latency_line(kind, record.latencies.get(kind, []), record.statuses.get(kind, Counter())))
    print(latency_line("202 (accepted)", record.accepted_latencies))
    print(latency_line("202 in the gateway", record.accepted_server))
    health_times = [seconds for _, seconds in health]
    health_statuses = Counter(status for status, _ in health)
    print(latency_line("/healthz (own process)", health_times, health_statuses))
    print(latency_line("client loop lag", record.loop_lag))
    print(f"  status counts (all /v1 requests): {dict(sorted(all_statuses.items(), key=lambda kv: str(kv[0])))}")
    accepted = len(record.accepted)
    print(f"  accepted evaluations: {accepted:,} ({accepted / wall:,.1f}/s, {accepted * args.items:,} items); "
          f"submissions unanswered at the end: {record.gave_up}")
    print(f"  client processes' CPU: {client_cpu_s:.1f} s ({args.client_processes} processes); peak RSS: "
          + ", ".join(f"{name} {mb:,.0f} MiB" for name, mb in peaks.items()))
    print(f"drain: {drained_s:.1f} s until the accepted evaluations ended")
    print(f"database: {check['checked']:,} accepted evaluations found, missing {len(check['missing'])}, not exactly "
          f"right {len(check['wrong'])}, created but never announced {len(check['unannounced'])}, "
          f"Idempotency-Keys left in progress {check['stuck_keys']}")
    for row in check["wrong"][:10]:
        print(f"  wrong: {row}")
    errors_500 = all_statuses.get(500, 0)
    accepted_p99 = pct(record.accepted_latencies, 99)
    health_p99 = pct(health_times, 99)
    targets = {
        "0 responses 500": errors_500 == 0,
        "/healthz p99 < 200 ms (and every probe 200)": health_p99 < TARGET_HEALTH_P99_S
        and set(health_statuses) == {200},
        "p99 of the 202s < 2 s": accepted_p99 < TARGET_ACCEPTED_P99_S,
        "every accepted evaluation completed, each item judged exactly once": accepted > 0
        and not check["missing"] and not check["wrong"],
    }
    print()
    for name, met in targets.items():
        print(f"  {name}: {h.verdict(met)}")
    print(f"  (information) 500s {errors_500}; /healthz p99 {health_p99 * 1000:.1f} ms; "
          f"202 p99 {accepted_p99 * 1000:.1f} ms")
    return targets


# ---------------------------------------------------------------- main


def gateway_env(db_url: str, judges: Path, args) -> dict[str, str]:
    """The gateway's and worker's environment: the bench database and Redis, extra settings from --setting."""
    env = h.service_env(db_url, judges, queue_prefix="jsload", heartbeat_seconds=1)
    for pair in args.setting:
        name, _, value = pair.partition("=")
        env[f"JUDGESERVE_{name.upper()}"] = value
    return env


def start_gateways(env: dict[str, str], log_dir: Path, count: int, stack: ExitStack) -> list[h.Gateway]:
    """``count`` real gateways on free ports, stopped when ``stack`` closes."""
    gateways = []
    for n in range(count):
        port = h.free_port()
        child = h.spawn(f"gateway-{n}", [sys.executable, "-m", "uvicorn", "--factory", "service.api.app:app_from_env",
                                         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                        env, log_dir)
        stack.callback(child.stop, 15)
        gw = h.Gateway(child, f"http://127.0.0.1:{port}")
        h.wait_ready(gw, 60)
        gateways.append(gw)
    return gateways


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("bench/load.py: " + " ".join(sys.argv[1:] if argv is None else argv))
    for line in h.machine_info():
        print(line)
    db_url = h.recreate_database(DATABASE)
    h.flush_redis()
    log_dir = Path(tempfile.mkdtemp(prefix="judgeserve-load-"))
    judges = h.write_judges_file(log_dir, [{"name": JUDGE, "backend": "scripted", "engine": {"policy": "longer"}}])
    env = gateway_env(db_url, judges, args)
    print(f"settings: {h.env_summary(env)}\nlogs: {log_dir}")
    try:
        with ExitStack() as stack:
            gateways = start_gateways(env, log_dir, args.gateways, stack)
            api_key = h.create_api_key(db_url)
            for gw in gateways:
                gw.api_key = api_key
            workers = [stack.enter_context(h.worker(env, log_dir, JUDGE)) for _ in range(args.workers)]
            with gateways[0].client() as client:
                make_suites(client, args)
                h.wait_judge_available(client, JUDGE, 90, workers[0])
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            health_results, record = context.Queue(), Record()
            start_at = time.time() + 5  # every process imported and connected by then
            prober = context.Process(target=health_probe, args=(gateways[0].base_url, args.health_interval,
                                                                args.duration, health_results, start_at))
            clients = [context.Process(target=client_process,
                                       args=([gw.base_url for gw in gateways], api_key, args, share, start_at, results))
                       for share in range(args.client_processes)]
            for process in (prober, *clients):
                process.start()
            for _ in clients:
                record.merge(results.get(timeout=args.duration + args.request_timeout + 120))
            wall = time.time() - start_at
            health = health_results.get(timeout=60)
            for process in (prober, *clients):
                process.join(10)
            for gw in gateways:
                gw.child.sample()
            ids = sorted(record.accepted)
            drained = drain(db_url, ids, args.drain_timeout, workers)
            for child in workers:
                child.sample()
            check = check_database(db_url, ids, args.items)
            peaks = {gw.child.name: gw.child.peak_mb for gw in gateways} | {w.name: w.peak_mb for w in workers}
            targets = report(record, wall, health, drained, check, args, peaks, record.cpu_seconds)
    finally:
        if not args.keep_db:
            h.drop_database(DATABASE)
    met = all(targets.values())
    print("\nall targets met" if met else "\nTARGET MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
