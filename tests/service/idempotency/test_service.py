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


class Interrupted(BaseException):
    """Not an Exception: like a KeyboardInterrupt or a cancellation reaching the request's thread."""


def test_any_failure_gives_the_key_back_even_one_that_is_not_an_exception(prod_settings):
    url, project = prod_settings.database_url, project_id(prod_settings)

    def interrupted(claim):
        raise Interrupted()

    with pytest.raises(Interrupted):
        run_once(url, project, "k", b"body", interrupted)
    assert records(url) == []


def test_the_key_is_given_back_when_the_failure_broke_the_database_connection(prod_settings):
    """The work's connection dies (as when Postgres restarts): the release reconnects and frees the key."""
    from sqlalchemy import text

    url, project = prod_settings.database_url, project_id(prod_settings)
    with session_scope(url) as session:
        def connection_killed(claim):
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            raise AssertionError("unreachable: the statement above loses its connection")

        with pytest.raises(Exception) as info:
            idempotency.once(session, project, "k", "POST /things", b"body", connection_killed,
                             replay=lambda earlier: None)
        assert not isinstance(info.value, AssertionError)
    assert records(url) == []
    assert run_once(url, project, "k", b"body", lambda claim: "after") == ("after", False)


def test_a_release_that_cannot_reach_the_database_gives_up_without_hiding_the_error(prod_settings, monkeypatch):
    url, project = prod_settings.database_url, project_id(prod_settings)
    attempts = []
    monkeypatch.setattr(idempotency, "RELEASE_PAUSE_SECONDS", 0)
    monkeypatch.setattr(idempotency.repo, "forget", lambda *args, **kwargs: attempts.append(args) or 1 / 0)

    def fails(claim):
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError, match="the work failed"):
        run_once(url, project, "k", b"body", fails)
    assert len(attempts) == idempotency.RELEASE_ATTEMPTS
    assert records(url) == [("k", "in_progress")]  # left to go stale, as before
