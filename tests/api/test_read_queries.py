"""Read endpoints issue a fixed number of SQL statements, however many rows they return (no N+1)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from sqlalchemy import event

from service.db.engine import get_engine
from tests.support import api_client, run_worker


@contextmanager
def counted_statements(url):
    statements = []
    engine = get_engine(url)

    def count(conn, cursor, statement, *args):
        if threading.current_thread().name != "judgeserve-reaper":  # the gateway's background rounds are no request's
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_verdict_pages_cost_the_same_number_of_statements_at_any_size(prod_settings):
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a" * (i % 5), "response_b": "bb"} for i in range(60)]
    with api_client(prod_settings) as client:
        location = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m",
                                                        "items": items}).headers["location"]
        assert run_worker(prod_settings, "scripted").returncode == 0
        counts = {}
        for limit in (1, 10, 60):
            with counted_statements(prod_settings.database_url) as statements:
                page = client.get(f"{location}/verdicts", params={"limit": limit}).json()
            assert len(page["data"]) == limit and all(len(v["judgments"]) == 2 for v in page["data"])
            counts[limit] = len(statements)
        # every request first looks up its API key (one statement), then reads what it shows
        assert counts[1] == counts[10] == counts[60] <= 5, counts
        with counted_statements(prod_settings.database_url) as statements:
            assert client.get(location).json()["status"] == "completed"
        assert len(statements) <= 4
        with counted_statements(prod_settings.database_url) as statements:
            assert len(client.get("/v1/judges").json()) >= 2
        assert len(statements) == 2


def test_evaluation_list_pages_cost_the_same_number_of_statements_at_any_size(prod_settings):
    items = [{"id": "i0", "prompt": "p", "response_a": "a", "response_b": "bb"}]
    with api_client(prod_settings) as client:
        for n in range(12):
            judge = "scripted" if n % 3 == 0 else "unserved"  # some completed, with a summary to read
            assert client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": judge, "model": f"m{n}",
                                                        "items": items}).status_code == 202
        assert run_worker(prod_settings, "scripted").returncode == 0
        counts = {}
        for limit in (1, 5, 12):
            with counted_statements(prod_settings.database_url) as statements:
                page = client.get("/v1/evaluations", params={"limit": limit}).json()
            assert len(page["data"]) == limit
            counts[limit] = len(statements)
        assert sum(row["metric_value"] is not None for row in page["data"]) == 4
        # the API key, then one statement for the page (its headline metrics included)
        assert counts[1] == counts[5] == counts[12] == 2, counts
