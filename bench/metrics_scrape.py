"""Benchmark: how long a GET /metrics scrape takes with ~1,000,000 stored judgments (not a test).

Fills a private Postgres database (``judgeserve_bench_metrics``, dropped and recreated) with
evaluations, items and judgments by set-based SQL, then times scrapes through the real app
(FastAPI TestClient, production mode against that database and Redis):

- cold: a new gateway's first scrape (the bulk of the judgments table aggregated once in the database),
- warm: later scrapes with nothing new, and after each batch of new judgments (what a worker
  fleet adds between two scrapes),
- for comparison, the naive full aggregate a collector without running totals would run each scrape.

Run: .venv/bin/python bench/metrics_scrape.py [--judgments 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from service.api.app import create_app  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db.engine import dispose_all, session_scope  # noqa: E402
from service.db.migrate import upgrade  # noqa: E402
from service.metrics import repository as repo  # noqa: E402
from service.metrics.totals import (  # noqa: E402
    COMPLETION_TOKEN_BUCKETS, LATENCY_BUCKETS_SECONDS, PROMPT_TOKEN_BUCKETS,
)

ITEMS_PER_EVALUATION = 500
JUDGES = ("qwen-7b", "llama-8b", "embedded", "scripted")


def fill(url: str, n_judgments: int) -> None:
    """Completed evaluations of 500 items judged in both orders, plus a few running ones."""
    n_evaluations = max(1, n_judgments // (2 * ITEMS_PER_EVALUATION))
    with psycopg.connect(url, autocommit=True) as conn:
        has_project = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'evaluations' "
                                   "AND column_name = 'project_id'").fetchone() is not None
        project_col, project_val = ("project_id, ", "(SELECT min(id) FROM projects), ") if has_project else ("", "")
        conn.execute(f"""
            INSERT INTO evaluations (id, {project_col}protocol, judge, model, options, status, total, done, failed,
                                     chunks_total, chunks_done, created_at)
            SELECT md5('e' || e)::uuid::text, {project_val}'pairwise', (%(judges)s::text[])[1 + e %% 4],
                   'm' || e, '{{}}', CASE WHEN e %% 100 = 0 THEN 'running' ELSE 'completed' END,
                   %(n)s, %(n)s, 0, 16, 16, now()
            FROM generate_series(1, %(e)s) e""", {"judges": list(JUDGES), "n": ITEMS_PER_EVALUATION,
                                                   "e": n_evaluations})
        conn.execute("""
            INSERT INTO chunks (evaluation_id, index, start, stop, status, attempts, updated_at)
            SELECT e.id, c, c * 32, (c + 1) * 32, CASE WHEN e.status = 'running' AND c > 10 THEN 'pending'
                   ELSE 'done' END, 1, now() FROM evaluations e, generate_series(0, 15) c""")
        conn.execute("""
            INSERT INTO items (evaluation_id, position, item_key, payload)
            SELECT e.id, p, 'item-' || p, '{}' FROM evaluations e, generate_series(0, %(n)s - 1) p""",
                     {"n": ITEMS_PER_EVALUATION})
        conn.execute("""
            INSERT INTO judgments (evaluation_id, item_id, "order", sample, prompt_hash, template, raw_output,
                                   label, fingerprint, prompt_tokens, completion_tokens, latency_ms, error, cached,
                                   created_at)
            SELECT i.evaluation_id, i.id, o, 0, md5(i.id || o), 'pairwise/1', '1',
                   CASE WHEN i.id % 97 = 0 THEN NULL ELSE '1' END, 'f', 100 + i.id % 900, 1,
                   5 + (i.id % 400), CASE WHEN i.id % 211 = 0 THEN 'engine error' END, i.id % 7 = 0, now()
            FROM items i CROSS JOIN (VALUES ('ab'), ('ba')) AS x(o)""")
        conn.execute("ANALYZE")


def add_judgments(url: str, n: int) -> None:
    """n more judgments on a running evaluation (new items, so new ids)."""
    with psycopg.connect(url, autocommit=True) as conn:
        evaluation, top = conn.execute(
            "SELECT e.id, (SELECT max(position) FROM items WHERE evaluation_id = e.id) FROM evaluations e "
            "WHERE status = 'running' ORDER BY id LIMIT 1").fetchone()
        conn.execute("""
            INSERT INTO items (evaluation_id, position, item_key, payload)
            SELECT %(e)s, %(top)s + p, 'extra-' || (%(top)s + p), '{}' FROM generate_series(1, %(n)s) p""",
                     {"e": evaluation, "top": top, "n": n // 2})
        conn.execute("""
            INSERT INTO judgments (evaluation_id, item_id, "order", sample, prompt_hash, template, raw_output, label,
                                   fingerprint, prompt_tokens, completion_tokens, latency_ms, cached, created_at)
            SELECT i.evaluation_id, i.id, o, 0, md5(i.id || o), 'pairwise/1', '2', '2', 'f', 300, 1, 40, false, now()
            FROM items i CROSS JOIN (VALUES ('ab'), ('ba')) AS x(o)
            WHERE i.evaluation_id = %(e)s AND i.position > %(top)s""", {"e": evaluation, "top": top})


def timed_scrape(client: TestClient) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get("/metrics")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed, response.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="judgeserve_bench_metrics")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--batch", type=int, default=2000, help="new judgments between warm scrapes")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()
    url = args.admin_url.rsplit("/", 1)[0] + f"/{args.database}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    upgrade(url)
    started = time.perf_counter()
    fill(url, args.judgments)
    with psycopg.connect(url) as conn:
        n = conn.execute("SELECT count(*) FROM judgments").fetchone()[0]
    print(f"filled {n:,} judgments in {time.perf_counter() - started:.1f} s")

    settings = Settings(database_url=url, redis_url=args.redis_url, queue_prefix="benchmetrics")
    with TestClient(create_app(settings)) as client:
        cold, body = timed_scrape(client)
        count_line = next(line for line in body.splitlines()
                          if line.startswith('judgeserve_judge_calls_total{judge="qwen-7b",outcome="ok"}'))
        warm = [timed_scrape(client)[0] for _ in range(10)]
        after_batch = []
        for _ in range(5):
            add_judgments(url, args.batch)
            after_batch.append(timed_scrape(client)[0])
        final = timed_scrape(client)[1]
    total = sum(float(line.rsplit(" ", 1)[1]) for line in final.splitlines()
                if line.startswith("judgeserve_judge_calls_total{"))
    with session_scope(url) as session:  # what a collector without running totals would run at every scrape
        started = time.perf_counter()
        repo.judgment_groups_between(session, 0, repo.max_judgment_id(session),
                                     [b * 1000.0 for b in LATENCY_BUCKETS_SECONDS], PROMPT_TOKEN_BUCKETS,
                                     COMPLETION_TOKEN_BUCKETS)
        naive = time.perf_counter() - started
        stored = repo.max_judgment_id(session) and session.scalar(text("SELECT count(*) FROM judgments"))
    dispose_all()
    print(f"  {count_line}")
    print(f"cold scrape (new gateway, bulk catch-up): {cold * 1000:.0f} ms")
    print(f"warm scrape, nothing new:                 median {statistics.median(warm) * 1000:.1f} ms "
          f"(max {max(warm) * 1000:.1f})")
    print(f"warm scrape after {args.batch:,} new judgments:    median {statistics.median(after_batch) * 1000:.1f} ms "
          f"(max {max(after_batch) * 1000:.1f})")
    print(f"the same aggregate over the whole table (a scrape without running totals): {naive * 1000:.0f} ms")
    print(f"judge calls counted {total:,.0f} == stored {stored:,}: {total == stored}")
    if not args.keep:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0 if total == stored else 1


if __name__ == "__main__":
    sys.exit(main())
