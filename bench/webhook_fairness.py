"""Fair queues under a noisy tenant: webhook fan-out and another project's backlog against judge latency.

Production mode on this machine (Postgres, Redis, one real gateway process, one real worker
process with a scripted judge that takes ``--judge-ms`` per engine call), loopback traffic only.

Part 1, webhook fan-out. Project "noisy" registers ``--endpoints`` endpoints (the per-project limit
is raised for the bench with JUDGESERVE_WEBHOOKS) on one HTTP receiver on 127.0.0.1 and submits
``--completions`` small evaluations: each completion queues one delivery per endpoint. Meanwhile
project "victim" submits ``--victims`` one-chunk evaluations, one every ``--victim-interval`` s, and
their latency (created → completed, from the database) is measured:

- ``deliveries``: with the endpoints, the worker as shipped (deliveries in a delivery process of its own);
- ``none``: the same run with no endpoint registered (nothing to deliver);
- ``old order``: with the endpoints, the worker's judge loop serving the webhook queue first, in the judge
  process, with no delivery process (how workers ran before; emulated by swapping the worker's queue list).

Part 2, another project's backlog. Project "big" queues ``--big`` evaluations of ``--big-chunks``
chunks each, then project "small" one evaluation of one chunk; then one worker starts. Reported: how
long the small evaluation took after the worker started and how many chunks were judged before it,
with projects taking turns (as shipped) and first come, first served (the queue as it was).

    .venv/bin/python bench/webhook_fairness.py            # ~25 minutes on 2 busy cores (--part 1 or 2)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("JUDGESERVE_BENCH_PIPE_DB", "judgeserve_bench_fairness")  # its own database

from bench import harness as h  # noqa: E402

JUDGE = "bench-scripted"
OLD_ORDER_WORKER = (
    "import sys, workers.judge_worker as w\n"
    "from service.queue import webhook_queue\n"
    "w.queues_in_order = lambda s, judge, burst=False: [webhook_queue(s), s.aggregate_queue, s.queue_name(judge)]\n"
    "import workers.delivery_worker as d\n"
    "d.DeliveryProcess.start = d.DeliveryProcess.stop = lambda self, *a, **k: None\n"
    "from workers import runtime\n"
    "runtime.configure(w.get_settings()); runtime.start_webhook_sweeper()\n"
    "sys.exit(w.serve(sys.argv[1]))\n"
)


class Receiver:
    """One threaded HTTP server on 127.0.0.1 that answers every POST with 200 and counts them."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=300)
    parser.add_argument("--completions", type=int, default=50)
    parser.add_argument("--victims", type=int, default=20)
    parser.add_argument("--victim-interval", type=float, default=0.5)
    parser.add_argument("--judge-ms", type=float, default=20.0, help="the scripted judge's time per engine call")
    parser.add_argument("--big", type=int, default=100, help="part 2: evaluations of the big project")
    parser.add_argument("--big-chunks", type=int, default=10, help="part 2: chunks of each big evaluation")
    parser.add_argument("--skip-old-order", action="store_true")
    parser.add_argument("--part", type=int, choices=(1, 2), default=None, help="run only part 1 or part 2")
    return parser.parse_args(argv)


def body(tag: str, n_items: int, chunk_size: int = 32) -> dict:
    items = [{"id": f"{tag}-{i}", "prompt": f"{tag} question {i}", "response_a": "answer " * (i % 5 + 1),
              "response_b": "answer"} for i in range(n_items)]
    return {"protocol": "pairwise", "judge": JUDGE, "model": "m", "items": items,
            "options": {"cache": False, "chunk_size": chunk_size}}


@contextmanager
def stack(work_dir: Path, tag: str, endpoints_limit: int, old_order: bool):
    """A fresh database and Redis, a gateway and one worker; yields (gateway, worker, env, db_url)."""
    db_url = h.recreate_database()
    h.flush_redis()
    judges = h.write_judges_file(work_dir, [{"name": JUDGE, "backend": "scripted", "model": "bench-longer",
                                             "engine": {"policy": "longer", "delay_ms": ARGS.judge_ms}}])
    webhooks = {"allow_hosts": ["127.0.0.1"], "max_endpoints_per_project": endpoints_limit,
                "timeout_seconds": 5, "poll_seconds": 1}
    env = h.service_env(db_url, judges, webhooks=json.dumps(webhooks), log_level="WARNING")
    log_dir = work_dir / tag
    log_dir.mkdir()
    with h.gateway(env, log_dir) as gw:
        if old_order:
            worker = h.spawn("worker", [sys.executable, "-c", OLD_ORDER_WORKER, JUDGE], env, log_dir)
        else:
            worker = h.start_worker(env, log_dir, JUDGE, burst=False)
        try:
            with gw.client() as probe:
                h.wait_judge_available(probe, JUDGE, 60, worker)
            yield gw, worker, env, db_url
        finally:
            worker.stop(60)


def project_client(gw: h.Gateway, db_url: str, project: str) -> httpx.Client:
    key = h.create_api_key(db_url, project)
    return httpx.Client(base_url=gw.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"})


def fan_out_side(work_dir: Path, tag: str, endpoints: int, old_order: bool = False) -> dict:
    """One side of part 1: the victims' latencies (s) and the deliveries made."""
    receiver = Receiver()
    try:
        with stack(work_dir, tag, max(endpoints, 1), old_order) as (gw, worker, _env, db_url):
            noisy, victim = project_client(gw, db_url, "noisy"), project_client(gw, db_url, "victim")
            for k in range(endpoints):
                made = noisy.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{receiver.port}/hook/{k}",
                                                        "event_types": ["evaluation.completed"]})
                assert made.status_code == 201, made.text
            started = time.monotonic()
            for k in range(ARGS.completions):
                h.post_evaluation(noisy, json.dumps(body(f"noisy{k}", 2)).encode())
            victims = []
            for k in range(ARGS.victims):
                victims.append(h.post_evaluation(victim, json.dumps(body(f"victim{k}", 2)).encode())[0]["id"])
                time.sleep(ARGS.victim_interval)
            for evaluation_id in victims:
                h.wait_terminal(victim, evaluation_id, timeout=900, interval=0.2, watch=worker)
            victims_done = time.monotonic() - started
            delivered_then = receiver.count
            expected = endpoints * ARGS.completions
            deadline = time.monotonic() + 600
            while receiver.count < expected and time.monotonic() < deadline:
                time.sleep(0.5)
            all_delivered = time.monotonic() - started
            rows = h.query(db_url, "SELECT extract(epoch FROM e.completed_at - e.created_at) FROM evaluations e "
                                   "JOIN projects p ON p.id = e.project_id WHERE p.name = 'victim'")
            noisy.close()
            victim.close()
    finally:
        receiver.stop()
    latencies = sorted(float(r[0]) for r in rows)
    return {"latencies": latencies, "victims_done": victims_done, "delivered_then": delivered_then,
            "delivered": receiver.count, "expected": expected, "all_delivered": all_delivered}


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def report_fan_out(sides: dict[str, dict]) -> None:
    print(f"\nPart 1: {ARGS.endpoints} endpoints x {ARGS.completions} completions of project noisy; "
          f"{ARGS.victims} one-chunk evaluations of project victim, one every {ARGS.victim_interval:g} s; "
          f"judge {ARGS.judge_ms:g} ms per engine call")
    print(f"{'victim latency (s)':<24}" + "".join(f"{name:>16}" for name in sides))
    for label, fn in [("p50", lambda v: statistics.median(v)), ("p95", lambda v: pct(v, 0.95)),
                      ("max", lambda v: max(v)), ("mean", lambda v: statistics.fmean(v))]:
        print(f"{label:<24}" + "".join(f"{fn(s['latencies']):>16.2f}" for s in sides.values()))
    print(f"{'deliveries sent when the victims were done':<44}" +
          "".join(f"{s['delivered_then']:>10}/{s['expected']:<6}" for s in sides.values()))
    print(f"{'all deliveries sent after (s)':<24}" + "".join(f"{s['all_delivered']:>16.1f}" for s in sides.values()))
    base = sides["none"]["latencies"]
    for name, side in sides.items():
        if name != "none":
            print(f"ratio {name} / none: p50 {statistics.median(side['latencies']) / statistics.median(base):.2f}x, "
                  f"p95 {pct(side['latencies'], 0.95) / pct(base, 0.95):.2f}x, "
                  f"max {max(side['latencies']) / max(base):.2f}x")


class FifoDispatcher:
    """Pushes every chunk plainly at the tail: first come, first served across projects (the queue as it was)."""

    def __init__(self, settings):
        from service.queue import RQDispatcher
        self.inner = RQDispatcher(settings)

    def enqueue(self, job, args, queue, job_id, timeout, fair_key=None):
        from rq import Queue
        Queue(queue, connection=self.inner.redis).enqueue(job, *args, job_id=job_id, job_timeout=timeout)

    def ping(self):
        return True

    def close(self):
        self.inner.close()


def backlog_side(work_dir: Path, tag: str, fair: bool) -> dict:
    """One side of part 2: seconds from the worker's first chunk to the small evaluation's end, chunks judged before it."""
    from service.config import Settings
    from service.db.engine import dispose_all, session_scope
    from service.evaluations import service
    from service.evaluations.schemas import EvaluationCreate
    from service.projects import repository as projects
    from service.queue import RQDispatcher

    db_url = h.recreate_database()
    h.flush_redis()
    judges = h.write_judges_file(work_dir, [{"name": JUDGE, "backend": "scripted", "model": "bench-longer",
                                             "engine": {"policy": "longer", "delay_ms": ARGS.judge_ms}}])
    env = h.service_env(db_url, judges, log_level="WARNING")
    settings = Settings(database_url=db_url, redis_url=h.REDIS_URL, judges_file=judges)
    dispatcher = RQDispatcher(settings) if fair else FifoDispatcher(settings)
    chunk = 4
    with session_scope(db_url) as session:
        big, small = projects.add_project(session, "big").id, projects.add_project(session, "small").id
    for k in range(ARGS.big):
        with session_scope(db_url) as session:
            service.submit(session, dispatcher, settings,
                           EvaluationCreate(**body(f"big{k}", chunk * ARGS.big_chunks, chunk)), big)
    with session_scope(db_url) as session:
        small_id = service.submit(session, dispatcher, settings, EvaluationCreate(**body("small", chunk, chunk)), small)
    dispatcher.close()
    dispose_all()
    log_dir = work_dir / tag
    log_dir.mkdir()
    worker = h.start_worker(env, log_dir, JUDGE, burst=False)
    try:
        deadline = time.monotonic() + 900
        while not h.query(db_url, "SELECT completed_at FROM evaluations WHERE id = %s", (small_id,))[0][0]:
            if worker.poll() or time.monotonic() > deadline:
                raise RuntimeError(f"the small evaluation did not finish:\n{worker.log_tail()}")
            time.sleep(0.05)
    finally:
        worker.stop(60)
    # from the first chunk the worker claimed (its start-up is not queueing) to the small evaluation's end
    [(took,)] = h.query(db_url, "SELECT extract(epoch FROM (SELECT completed_at FROM evaluations WHERE id = %s) - "
                                "(SELECT min(started_at) FROM evaluations))", (small_id,))
    [(before,)] = h.query(db_url, "SELECT count(*) FROM judgments WHERE created_at <= "
                                  "(SELECT completed_at FROM evaluations WHERE id = %s) AND evaluation_id <> %s",
                          (small_id, small_id))
    return {"took": float(took), "chunks_before": before / (2 * chunk)}


def report_backlog(sides: dict[str, dict]) -> None:
    print(f"\nPart 2: project big queued {ARGS.big} evaluations x {ARGS.big_chunks} chunks "
          f"({ARGS.big * ARGS.big_chunks} chunks of 4 items), then project small 1 evaluation of 1 chunk; one worker")
    print(f"{'':<44}{'projects take turns':>22}{'first come, first served':>26}")
    fair, fifo = sides["fair"], sides["fifo"]
    print(f"{'small evaluation done after (s) *':<44}{fair['took']:>22.2f}{fifo['took']:>26.2f}")
    print(f"{'big chunks judged before it':<44}{fair['chunks_before']:>22.1f}{fifo['chunks_before']:>26.1f}")
    print(f"ratio first come, first served / take turns: {fifo['took'] / fair['took']:.1f}x")
    print("* from the moment the worker claimed its first chunk")


ARGS = parse_args([])


def main(argv: list[str] | None = None) -> int:
    global ARGS
    ARGS = parse_args(argv)
    print("\n".join(h.machine_info()))
    with tempfile.TemporaryDirectory(prefix="bench-fairness-") as tmp:
        work_dir = Path(tmp)
        if ARGS.part in (None, 1):
            sides = {"deliveries": fan_out_side(work_dir, "deliveries", ARGS.endpoints),
                     "none": fan_out_side(work_dir, "none", 0)}
            if not ARGS.skip_old_order:
                sides["old order"] = fan_out_side(work_dir, "old-order", ARGS.endpoints, old_order=True)
            report_fan_out(sides)
        if ARGS.part in (None, 2):
            backlog = {"fair": backlog_side(work_dir, "fair", True), "fifo": backlog_side(work_dir, "fifo", False)}
            report_backlog(backlog)
    h.drop_database()
    return 0


if __name__ == "__main__":
    sys.exit(main())
