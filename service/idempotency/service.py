"""Idempotency-Key: the same key and body replay the first response; another body is 422; in flight is 409.

The record is claimed (committed) before the work starts, and marked done in the SAME transaction
that creates the resource, so a crash can never leave a created resource without its record.
A claim whose request died before finishing is taken over after ``STALE_AFTER``. Each claim holds
its own owner token: a request whose claim was taken over (it ran longer than ``STALE_AFTER``) can
neither finish nor free the key any more, and its transaction fails with a 409 instead of creating
a second resource.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, TypeVar

from sqlalchemy.orm import Session

from service.errors import Conflict, FieldError, InvalidSubmission
from service.evaluations.problems import parameter_error
from service.evaluations.repository import now
from service.idempotency import repository as repo

KEY_MAX = 255
TTL = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=10)
RELEASE_ATTEMPTS = 3
RELEASE_PAUSE_SECONDS = 0.2
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Replay:
    """A finished earlier request with the same key: replay its response."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Claim:
    """This request owns the key: finish it with ``complete`` in the creating transaction."""

    project_id: str
    key: str
    owner: str


def once(session: Session, project_id: str, key: str | None, method_path: str, request: bytes,
         create: Callable[[Claim | None], T], replay: Callable[[Replay], T]) -> tuple[T, bool]:
    """``create(claim)`` once per Idempotency-Key, or ``replay(earlier)``; the result and whether it is a replay.

    ``create`` marks the claim done with ``complete`` in the transaction that creates the resource, and
    commits; if it fails in any way (a 422, a busy database, a lost queue, an interrupt), the key is given
    back so that a retry with it runs again instead of getting a 409 until the claim goes stale.
    """
    claim = begin(session, project_id, key, method_path, request)
    if isinstance(claim, Replay):
        return replay(claim), True
    try:
        return create(claim), False
    except BaseException:
        release(session, claim)
        raise


def response_headers(location: str, replayed: bool) -> dict[str, str]:
    """The headers of a created resource's response: ``Location``, and ``Idempotent-Replayed`` on a replay."""
    return {"Location": location} | ({"Idempotent-Replayed": "true"} if replayed else {})


def request_hash(method_path: str, body: bytes) -> str:
    """What identifies "the same request": method, path and body."""
    return hashlib.sha256(method_path.encode() + b"\\0" + body).hexdigest()


def begin(session: Session, project_id: str, key: str | None, method_path: str, body: bytes) -> Claim | Replay | None:
    """Claim ``key`` for this request (None without a key), or the earlier response to replay."""
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_MAX:
        raise InvalidSubmission([_header_error(f"must be 1..{KEY_MAX} characters")], title="Invalid Idempotency-Key")
    digest = request_hash(method_path, body)
    moment = now()
    owner = str(uuid.uuid4())
    row = {"project_id": project_id, "key": key, "method_path": method_path, "request_hash": digest,
           "status": "in_progress", "owner": owner, "created_at": moment, "expires_at": moment + TTL}
    if repo.claim(session, row):
        session.commit()
        return Claim(project_id, key, owner)
    found = repo.get(session, project_id, key)
    if found is None or _aware(found.expires_at) < moment or (
            found.status == "in_progress" and _aware(found.created_at) < moment - STALE_AFTER):
        if found is not None:  # expired, or its request died: start over (unless another retry just did)
            repo.forget(session, project_id, key, found.owner, found.status)
            session.commit()
        return begin(session, project_id, key, method_path, body)
    if found.request_hash != digest or found.method_path != method_path:
        raise InvalidSubmission([_header_error("this key was used with a different request; use a new key for a "
                                               "new request")], title="Idempotency-Key reused")
    if found.status != "done":
        raise Conflict("a request with this Idempotency-Key is still in progress; retry later")
    return Replay(found.response_status or 200, found.response_body or {}, found.response_headers or {})


def complete(session: Session, claim: Claim | None, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    """Record the response of a claimed request (call inside the transaction that creates the resource).

    Raises Conflict when a retry has taken the key over meanwhile: the caller's transaction must not
    commit, or the key's one request would have created two resources.
    """
    if claim is not None and not repo.complete(session, claim.project_id, claim.key, claim.owner, status, body,
                                               headers):
        raise Conflict("this request's Idempotency-Key was taken over by a retry after the request had been in "
                       f"progress for over {int(STALE_AFTER.total_seconds() // 60)} minutes; nothing was created "
                       "by this request: the retry's response is the one that counts")


def forget_done(session: Session, claim: Claim | None) -> None:
    """Drop this request's done record (not committed): the resource it names is being withdrawn with it."""
    if claim is not None:
        repo.forget(session, claim.project_id, claim.key, claim.owner, status="done")


def release(session: Session, claim: Claim | None) -> bool:
    """Give the key back after the request failed (nothing was created), so a retry can run; True when done.

    Never raises: the request's own error is the one to report. The database may be what failed, so
    the release is tried ``RELEASE_ATTEMPTS`` times (each on a fresh transaction, a new connection if
    the old one broke); if none works, the claim goes stale after ``STALE_AFTER`` as before.
    """
    if claim is None:
        return True
    for attempt in range(1, RELEASE_ATTEMPTS + 1):
        try:
            session.rollback()
            # only a claim still in progress: a done one names a resource that exists (the request failed after
            # its commit), and freeing it would let a retry create a second one
            repo.forget(session, claim.project_id, claim.key, claim.owner, status="in_progress")
            session.commit()
            return True
        except Exception as exc:
            log.warning("Idempotency-Key release failed (attempt %d of %d): %s", attempt, RELEASE_ATTEMPTS,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            if attempt < RELEASE_ATTEMPTS:
                time.sleep(RELEASE_PAUSE_SECONDS * attempt)
    log.error("Idempotency-Key of project %s stays claimed until it goes stale (%d min)", claim.project_id,
              int(STALE_AFTER.total_seconds() // 60))
    return False


def _header_error(detail: str) -> FieldError:
    """A problem with the Idempotency-Key header (no body pointer)."""
    return parameter_error("Idempotency-Key", detail)


def _aware(moment):
    """SQLite gives naive datetimes back: they are UTC."""
    from datetime import timezone

    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
