"""The one submission pipeline: a JSON body and an NDJSON upload, on the real Postgres and Redis."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from rq import Queue
from sqlalchemy import func, select

from service.db.engine import session_scope
from service.errors import InvalidSubmission, ServiceUnavailable
from service.evaluations import pipeline, upload
from service.evaluations.schemas import EvaluationCreate
from service.models import Chunk, Evaluation, Item
from service.queue import QueueUnavailable, RQDispatcher
from tests.support import project_id

FIELDS = {"protocol": "pairwise", "judge": "scripted", "model": "m", "options": {"chunk_size": 2}}


def item(i: int, **extra) -> dict:
    return {"id": f"i{i}", "prompt": f"question {i}", "response_a": "a", "response_b": "bb"} | extra


def from_body(items: list[dict], settings, **fields) -> pipeline.Submission:
    return pipeline.json_body(EvaluationCreate(**(FIELDS | fields), items=items), settings)


def from_upload(items: list[dict], settings, **fields) -> pipeline.Submission:
    content = b"".join(json.dumps(row).encode() + b"\n" for row in items)
    spooled = upload.Spool(io.BytesIO(content), len(content), hashlib.sha256(content).hexdigest())
    return upload.submission(upload.UploadHeader(**(FIELDS | fields)), spooled, settings)


def submit(settings, submission, dispatcher=None) -> str:
    dispatcher = dispatcher or RQDispatcher(settings)
    with session_scope(settings.database_url) as session:
        return pipeline.submit(session, dispatcher, settings, submission, project_id(settings))


def stored(settings, evaluation_id: str) -> tuple[list, list]:
    with session_scope(settings.database_url) as session:
        items = session.execute(select(Item.position, Item.item_key, Item.payload)
                                .where(Item.evaluation_id == evaluation_id).order_by(Item.position)).all()
        chunks = session.execute(select(Chunk.index, Chunk.start, Chunk.stop)
                                 .where(Chunk.evaluation_id == evaluation_id).order_by(Chunk.index)).all()
    return [tuple(row) for row in items], [tuple(row) for row in chunks]


def counts(settings) -> tuple[int, int]:
    with session_scope(settings.database_url) as session:
        return (session.scalar(select(func.count()).select_from(Evaluation)),
                session.scalar(select(func.count()).select_from(Item)))


def test_a_body_and_an_upload_make_the_same_rows_and_jobs(prod_settings):
    items = [item(i) for i in range(5)]
    body_id = submit(prod_settings, from_body(items, prod_settings))
    upload_id = submit(prod_settings, from_upload(items, prod_settings))
    assert stored(prod_settings, body_id) == stored(prod_settings, upload_id)
    assert stored(prod_settings, body_id)[1] == [(0, 0, 2), (1, 2, 4), (2, 4, 5)]
    jobs = Queue(prod_settings.queue_name("scripted"), connection=RQDispatcher(prod_settings).redis).job_ids
    assert sorted(jobs) == sorted(f"judge-chunk_{e}_{i}" for e in (body_id, upload_id) for i in range(3))


@pytest.mark.parametrize("make, where", [(from_body, "pointer"), (from_upload, "parameter")])
def test_header_problems_name_a_body_field_or_a_query_parameter(prod_settings, make, where):
    with pytest.raises(InvalidSubmission) as info:
        submit(prod_settings, make([item(1)], prod_settings, judge="nobody", suite_version=2))
    named = {error.get("pointer") or error.get("parameter") for error in info.value.errors}
    assert named == ({"/suite_version", "/judge"} if where == "pointer" else {"suite_version", "judge"})
    assert counts(prod_settings) == (0, 0)


@pytest.mark.parametrize("make", [from_body, from_upload])
def test_a_bad_item_stores_nothing(prod_settings, make):
    with pytest.raises(InvalidSubmission) as info:
        submit(prod_settings, make([item(0), item(1, response_b=3)], prod_settings))
    assert [e["pointer"] for e in info.value.errors] in (["/items/1/response_b"], ["/lines/2/response_b"])
    assert counts(prod_settings) == (0, 0)


class FailsMidway(RQDispatcher):
    """Redis answers the ping, then fails on the second chunk's job."""

    def __init__(self, settings):
        super().__init__(settings)
        self.queued = 0

    def enqueue(self, *args, **kwargs):
        if self.queued == 1:
            raise QueueUnavailable("Redis is unavailable: connection reset")
        self.queued += 1
        super().enqueue(*args, **kwargs)


@pytest.mark.parametrize("make", [from_body, from_upload])
def test_a_queue_that_fails_while_enqueueing_withdraws_the_evaluation(prod_settings, make):
    with pytest.raises(ServiceUnavailable, match="nothing was stored"):
        submit(prod_settings, make([item(i) for i in range(5)], prod_settings), FailsMidway(prod_settings))
    assert counts(prod_settings) == (0, 0)
