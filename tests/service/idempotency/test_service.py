"""The one Idempotency-Key wrapper (``once``), on the real Postgres."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.db.engine import session_scope
from service.errors import InvalidSubmission
from service.idempotency import service as idempotency
from service.models import IdempotencyRecord
from tests.support import project_id


def records(url: str) -> list[tuple[str, str]]:
    with session_scope(url) as session:
        return [tuple(row) for row in session.execute(select(IdempotencyRecord.key, IdempotencyRecord.status))]


def run_once(url: str, project: str, key: str | None, request: bytes, create) -> tuple[str, bool]:
    with session_scope(url) as session:
        def created(claim):
            result = create(claim)
            idempotency.complete(session, claim, 201, {"result": result}, {"Location": f"/things/{result}"})
            session.commit()
            return result

        return idempotency.once(session, project, key, "POST /things", request, created,
                                replay=lambda earlier: earlier.body["result"])


def test_the_first_request_creates_and_the_same_one_again_replays(prod_settings):
    url, project = prod_settings.database_url, project_id(prod_settings)
    made = []

    def create(claim):
        made.append(claim)
        return f"thing-{len(made)}"

    assert run_once(url, project, "k", b"body", create) == ("thing-1", False)
    assert run_once(url, project, "k", b"body", create) == ("thing-1", True)
    assert run_once(url, project, None, b"body", create) == ("thing-2", False) and made[1] is None
    with pytest.raises(InvalidSubmission) as info:
        run_once(url, project, "k", b"another body", create)
    assert info.value.errors[0]["parameter"] == "Idempotency-Key" and len(made) == 2
    assert records(url) == [("k", "done")]


def test_a_request_that_fails_gives_its_key_back(prod_settings):
    url, project = prod_settings.database_url, project_id(prod_settings)

    def fails(claim):
        assert records(url) == [("k", "in_progress")]  # claimed (committed) before the work starts
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError):
        run_once(url, project, "k", b"body", fails)
    assert records(url) == []
    assert run_once(url, project, "k", b"body", lambda claim: "done-now") == ("done-now", False)


@pytest.mark.parametrize("replayed, headers", [
    (False, {"Location": "/v1/things/1"}),
    (True, {"Location": "/v1/things/1", "Idempotent-Replayed": "true"}),
])
def test_response_headers(replayed, headers):
    assert idempotency.response_headers("/v1/things/1", replayed) == headers
