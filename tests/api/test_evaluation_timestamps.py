"""Evaluation timestamps carry their time zone, in UTC, in GET /v1/evaluations/{id} and GET /v1/evaluations:
on SQLite (embedded mode), which stores them without one, and on Postgres, here with a session time zone
that is not UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from service.config import Settings
from tests.support import api_client, run_worker, wait_for

TIMES = ("created_at", "started_at", "completed_at")
ITEMS = [{"id": f"i{i}", "prompt": "p", "response_a": "x" * (i + 1), "response_b": "yy"} for i in range(3)]
# a Postgres session in UTC+05:30 returns timestamptz values at that offset
NOT_UTC = "options=-c%20TimeZone%3DAsia%2FKolkata"


def assert_utc(text: str, since: datetime) -> None:
    """An ISO 8601 time with the UTC offset (Z or +00:00), at or after ``since`` and not in the future."""
    assert text.endswith(("Z", "+00:00")), text
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0), text
    assert since - timedelta(seconds=1) <= moment <= datetime.now(timezone.utc) + timedelta(seconds=1), text


def assert_views_carry_utc(client, evaluation_id: str, since: datetime) -> None:
    single = client.get(f"/v1/evaluations/{evaluation_id}").json()
    listed = next(row for row in client.get("/v1/evaluations").json()["data"] if row["id"] == evaluation_id)
    for view in (single, listed):
        assert view["status"] == "completed", view
        for name in TIMES:
            assert_utc(view[name], since)
    assert single["created_at"] <= single["started_at"] <= single["completed_at"]


def submit(client) -> tuple[str, str]:
    response = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m",
                                                    "items": ITEMS})
    assert response.status_code == 202, response.text
    return response.json()["id"], response.json()["created_at"]


def test_embedded_sqlite_evaluation_views_carry_utc(tmp_path, judges_file):
    since = datetime.now(timezone.utc)
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    assert settings.embedded
    with api_client(settings) as client:
        evaluation_id, created_at = submit(client)
        assert_utc(created_at, since)
        wait_for(lambda: client.get(f"/v1/evaluations/{evaluation_id}").json()["status"] == "completed", timeout=30)
        assert_views_carry_utc(client, evaluation_id, since)


@pytest.mark.parametrize("session_time_zone", ["server default", "UTC+05:30"])
def test_postgres_evaluation_views_carry_utc(prod_settings, session_time_zone):
    since = datetime.now(timezone.utc)
    settings = prod_settings
    if session_time_zone != "server default":
        settings = prod_settings.model_copy(update={"database_url": f"{prod_settings.database_url}?{NOT_UTC}"})
    with api_client(settings) as client:
        evaluation_id, created_at = submit(client)
        assert_utc(created_at, since)
        result = run_worker(settings, "scripted")
        assert result.returncode == 0, result.stderr[-3000:]
        assert_views_carry_utc(client, evaluation_id, since)
