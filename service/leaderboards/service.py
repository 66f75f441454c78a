"""Reading leaderboards: a stored snapshot, with an ETag per view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from service.core.protocol import get_protocol
from service.errors import FieldError, InvalidSubmission, NotFound
from service.leaderboards import repository as repo


@dataclass
class LeaderboardView:
    """A leaderboard as served: the body and its entity tag."""

    body: dict[str, Any]
    etag: str


def read(session: Session, project_id: str, suite: str, protocol: str, judge: str | None,
         runs: Literal["latest", "all"]) -> LeaderboardView:
    """The stored leaderboard of a suite × protocol × judge (one query; nothing is recomputed)."""
    if judge is None:
        judges = repo.judges_with_snapshots(session, project_id, suite, protocol)
        if len(judges) > 1:
            raise InvalidSubmission([FieldError("/judge", f"several judges have leaderboards on {suite!r}: {judges}; "
                                                          "choose one with ?judge=")], title="Ambiguous leaderboard")
        judge = judges[0] if judges else None
    snapshot = repo.get_snapshot(session, project_id, suite, protocol, judge) if judge else None
    if snapshot is None:
        raise NotFound(f"no leaderboard for suite {suite!r}, protocol {protocol!r}"
                       f"{', judge ' + repr(judge) if judge else ''} yet: it appears when an evaluation completes")
    body = {k: v for k, v in snapshot.body.items() if k not in ("latest", "all")}
    try:
        declared = get_protocol(protocol)  # what the protocol declares now, not when the snapshot was taken
    except KeyError:
        raise NotFound(f"protocol {protocol!r} is not registered on this server") from None
    body.update(runs=runs, rows=snapshot.body[runs], metric_kind=declared.metric_kind.as_json(),
                columns=list(declared.leaderboard_columns), ranked_by=declared.ranking)
    return LeaderboardView(body=body, etag=f'"{snapshot.etag}-{runs}"')
