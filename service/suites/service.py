"""Suite use cases shared by the API and the CLI: create a version, list, read with paged items."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import Conflict, NotFound
from service.evaluations.service import decode_cursor, encode_cursor
from service.idempotency import service as idempotency
from service.models import Suite, SuiteItem
from service.models.base import utcnow
from service.suites import repository as repo
from service.suites.examples import EXAMPLE_SUITES
from service.suites.schemas import SuiteCreate, SuiteDetail, SuiteOut

ITEM_OWN_COLUMNS = {"id", "category"}


def create_once(session: Session, body: SuiteCreate, project_id: str, idempotency_key: str | None,
                request: bytes) -> tuple[SuiteOut, bool]:
    """``create_suite`` once per Idempotency-Key (``request``: the raw request that identifies it)."""
    return idempotency.once(session, project_id, idempotency_key, "POST /v1/suites", request,
                            lambda claim: _create_committed(session, body, project_id, claim),
                            replay=lambda earlier: _created_earlier(session, project_id, earlier.body))


def _create_committed(session: Session, body: SuiteCreate, project_id: str, claim: idempotency.Claim | None) -> SuiteOut:
    created = create_suite(session, body, project_id, claim)
    session.commit()
    return created


def _created_earlier(session: Session, project_id: str, earlier: dict[str, Any]) -> SuiteOut:
    suite = repo.get_suite(session, project_id, earlier["name"], earlier["version"])
    if suite is None:
        raise NotFound(f"suite {earlier['name']!r} version {earlier['version']} no longer exists")
    return SuiteOut.model_validate(suite)


def create_suite(session: Session, body: SuiteCreate, project_id: str,
                 claim: idempotency.Claim | None = None) -> SuiteOut:
    """Store ``body`` as the next version of its suite in a project; earlier versions stay as they were."""
    version = repo.next_version(session, project_id, body.name)
    suite = {
        "id": str(uuid.uuid4()), "project_id": project_id, "name": body.name, "version": version, "description": body.description,
        "baseline_model": body.baseline_model, "n_items": len(body.items), "created_at": utcnow(),
    }
    items = [
        {"suite_id": suite["id"], "position": position, "item_key": item.id, "category": item.category,
         "payload": item.model_dump(mode="json", exclude=ITEM_OWN_COLUMNS, exclude_none=True)}
        for position, item in enumerate(body.items)
    ]
    try:
        repo.add_suite(session, suite, items)
    except IntegrityError:  # another upload under the same name took this version number first
        raise Conflict(f"suite {body.name!r} version {version} was just created by another upload; "
                       "nothing was stored, retry the upload") from None
    location = f"/v1/suites/{body.name}/versions/{version}"
    idempotency.complete(session, claim, 201, {"name": body.name, "version": version}, {"Location": location})
    return SuiteOut.model_validate(suite)


def list_suites(session: Session, project_id: str) -> list[SuiteOut]:
    """The latest version of every suite of a project, by name."""
    return [SuiteOut.model_validate(suite) for suite in repo.list_latest(session, project_id)]


def get_suite(session: Session, project_id: str, name: str, version: int | None = None, limit: int = 100,
              cursor: str | None = None) -> SuiteDetail:
    """A suite version (the latest when ``version`` is None) with one page of items in upload order."""
    after = decode_cursor(cursor)
    suite = _find(session, project_id, name, version)
    rows = repo.items_of(session, suite.id, after_position=after, limit=limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].position) if len(rows) > limit else None
    return SuiteDetail(**SuiteOut.model_validate(suite).model_dump(), items=[item_out(row) for row in page],
                       next_cursor=next_cursor)


def _find(session: Session, project_id: str, name: str, version: int | None) -> Suite:
    suite = repo.get_suite(session, project_id, name, version)
    if suite is not None:
        return suite
    if version is None:
        raise NotFound(f"suite {name!r} not found")
    latest = repo.get_suite(session, project_id, name)
    if latest is None:
        raise NotFound(f"suite {name!r} not found")
    raise NotFound(f"suite {name!r} has no version {version} (latest is version {latest.version})")


def item_out(row: SuiteItem) -> dict[str, Any]:
    """A stored item as it was uploaded: id, category and its other fields."""
    category = {"category": row.category} if row.category is not None else {}
    return {"id": row.item_key, **category, **row.payload}


def load_example_suites(session: Session, project_id: str) -> list[SuiteOut]:
    """Create the bundled example suites that do not exist yet in a project (idempotent); returns all of them."""
    return [suite for suite, _ in ensure_example_suites(session, project_id)]


def ensure_example_suites(session: Session, project_id: str) -> list[tuple[SuiteOut, bool]]:
    """Each bundled example suite with whether this call created it (False: a suite of that name existed)."""
    results = []
    for name, build in EXAMPLE_SUITES.items():
        existing = repo.get_suite(session, project_id, name)
        if existing is not None:
            results.append((SuiteOut.model_validate(existing), False))
        else:
            results.append((create_suite(session, build(), project_id), True))
    return results
