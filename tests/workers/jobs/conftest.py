"""Fixtures of the chunk-job tests."""

from __future__ import annotations

import pytest

from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from tests.support import project_id
from tests.workers.jobs.chunk_jobs import RecordingDispatcher
from workers import runtime


@pytest.fixture
def submitted(prod_settings):
    """A 6-item pairwise evaluation in two chunks of 3, submitted (its jobs recorded, not sent)."""
    runtime.configure(prod_settings)
    dispatcher = RecordingDispatcher()
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(6)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted", model="m", items=items,
                          options={"chunk_size": 3, "cache": False})
    with session_scope(prod_settings.database_url) as session:
        evaluation_id = service.submit(session, dispatcher, prod_settings, body, project_id(prod_settings))
    yield prod_settings, evaluation_id, dispatcher
    runtime.shutdown()
