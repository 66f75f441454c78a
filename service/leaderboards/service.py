"""Reading leaderboards: a stored snapshot, with an ETag per view."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, Sequence

from sqlalchemy.orm import Session

from service.core.protocol import get_protocol
from service.core.rank_ranges import rank_ranges
from service.errors import FieldError, InvalidSubmission, NotFound
from service.core.tags import TagFilter
from service.leaderboards import repository as repo
from service.leaderboards import snapshot as snapshots


@dataclass
class LeaderboardView:
    """A leaderboard as served: the body and its entity tag."""

    body: dict[str, Any]
    etag: str


def read(session: Session, project_id: str, suite: str, protocol: str, judge: str | None,
         runs: Literal["latest", "all"], tags: Sequence[TagFilter] = ()) -> LeaderboardView:
    """The stored leaderboard of a suite × protocol × judge (one query; nothing is recomputed).

    With tag filters it is computed from the runs with those tags (a few queries; not stored).
    """
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
    try:
        declared = get_protocol(protocol)  # what the protocol declares now, not when the snapshot was taken
    except KeyError:
        raise NotFound(f"protocol {protocol!r} is not registered on this server") from None
    stored, etag = snapshot.body, snapshot.etag
    if tags:
        stored, etag = _tagged(session, snapshot, project_id, suite, protocol, tags)
    body = {k: v for k, v in stored.items() if k not in ("latest", "all")}
    body.update(runs=runs, rows=with_rank_ranges(stored[runs]), metric_kind=declared.metric_kind.as_json(),
                columns=list(declared.leaderboard_columns), ranked_by=declared.ranking, tags=[str(t) for t in tags])
    return LeaderboardView(body=body, etag=f'"{etag}-{runs}"')


# tag-filtered views computed from the stored results, by the snapshot they were computed at: a run completing
# (or a review) refreshes the snapshot and so its ETag, and tags never change, so a view is valid while its
# snapshot is; polling a tagged board then costs the snapshot read, not a Bradley-Terry fit and its bootstrap
_TAGGED: OrderedDict[tuple, tuple[dict[str, Any], str]] = OrderedDict()
_TAGGED_LOCK = threading.Lock()
TAGGED_VIEWS_KEPT = 128


def _tagged(session: Session, snapshot: Any, project_id: str, suite: str, protocol: str,
            tags: Sequence[TagFilter]) -> tuple[dict[str, Any], str]:
    """The body and ETag of a tag-filtered leaderboard, computed once per snapshot version and filter set."""
    key = (project_id, suite, protocol, snapshot.judge, snapshot.etag, tuple(sorted(str(t) for t in tags)))
    with _TAGGED_LOCK:
        if key in _TAGGED:
            _TAGGED.move_to_end(key)
            return _TAGGED[key]
    body = snapshots.compute(session, project_id, suite, protocol, snapshot.judge, tags)
    view = (body, snapshots.body_etag(body))
    with _TAGGED_LOCK:
        _TAGGED[key] = view
        while len(_TAGGED) > TAGGED_VIEWS_KEPT:
            _TAGGED.popitem(last=False)
    return view


def with_rank_ranges(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the rows with ``rank_best``/``rank_worst`` from the intervals of what ranks them.

    Ranked rows (latest runs) are ranked by Elo where every one has a finite Elo interval, else by the
    metric, so their ranges come from those intervals; unranked rows (every run) get none.
    """
    ranked = [row for row in rows if row.get("rank") is not None]
    key = "elo_ci95" if ranked and all(_interval(row.get("elo_ci95")) for row in ranked) else "ci95"
    ranges = iter(rank_ranges([_interval(row.get(key)) for row in ranked]))
    out = []
    for row in rows:
        found = next(ranges) if row.get("rank") is not None else None
        out.append({**row, "rank_best": found[0] if found else None, "rank_worst": found[1] if found else None})
    return out


def _interval(value: Any) -> tuple[float, float] | None:
    """A finite [low, high] pair, else None."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value) or value[0] > value[1]:
        return None
    return float(value[0]), float(value[1])
