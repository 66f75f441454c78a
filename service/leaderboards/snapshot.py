"""Compute a leaderboard snapshot from stored results (run by the aggregation job, never by a poll).

A leaderboard covers one suite version: the newest version any completed evaluation used, so runs
on different item sets are never ranked together.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.core.protocol import get_protocol
from service.core.tags import TagFilter
from service.core.ranking import bootstrap_elo_intervals, bradley_terry, elo_scores
from service.leaderboards import repository as repo
from service.models import Evaluation

DEFAULT_BASELINE = "baseline"
BOOTSTRAP_RESAMPLES = 200


def refresh(session: Session, project_id: str, suite: str, protocol: str, judge: str) -> str:
    """Recompute and store the snapshot of one leaderboard of a project; returns its ETag."""
    _serialise_refreshes(session, project_id, suite, protocol, judge)
    body = compute(session, project_id, suite, protocol, judge)
    etag = body_etag(body)
    repo.put_snapshot(session, project_id, suite, protocol, judge, etag, body)
    return etag


def compute(session: Session, project_id: str, suite: str, protocol: str, judge: str,
            tags: Sequence[TagFilter] = ()) -> dict[str, Any]:
    """A leaderboard's body from the stored results (rows ``latest`` and ``all``), optionally of tagged runs only."""
    evaluations = repo.completed_evaluations(session, project_id, suite, protocol, judge, tags)
    version = max((e.suite_version or 0 for e in evaluations), default=None)
    evaluations = [e for e in evaluations if (e.suite_version or 0) == version]
    latest = list({e.model: e for e in evaluations}.values())  # oldest first, so the last run per model wins
    declared = get_protocol(protocol)
    ranking = _ranking(session, latest) if declared.ranking == "bradley_terry" else None
    columns = declared.leaderboard_columns
    lengths = _mean_lengths(session, evaluations, declared.page_view)
    latest_rows = [_row(e, columns, lengths) | _elo(ranking, e.model) for e in latest]
    return {
        "suite": suite, "suite_version": version, "protocol": protocol, "judge": judge,
        "metric": latest_rows[0]["metric"] if latest_rows else declared.headline_metric,
        "latest": _ranked(latest_rows),
        "all": [_row(e, columns, lengths) for e in evaluations],
        "ranking": {k: v for k, v in ranking.items() if k in ("method", "anchor", "anchor_rating")} if ranking else None,
    }


def body_etag(body: dict[str, Any]) -> str:
    """The entity tag of a leaderboard body: a hash of its content."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()[:32]


def _mean_lengths(session: Session, evaluations: list[Evaluation], view: Any) -> dict[str, float]:
    """Mean length of each evaluation's judged response (the candidate's: the first compared, or the one judged)."""
    field = view.compared[0] if view.compared else view.response
    return repo.mean_lengths(session, [e.id for e in evaluations], field) if field else {}


def _serialise_refreshes(session: Session, project_id: str, suite: str, protocol: str, judge: str) -> None:
    """On Postgres, refreshes of one leaderboard take turns, so the last one to write saw every commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"{project_id}|{suite}|{protocol}|{judge}"})


def _row(evaluation: Evaluation, columns: tuple[str, ...], lengths: dict[str, float]) -> dict[str, Any]:
    summary = evaluation.summary or {}
    metric = summary.get("metric", "score")
    row = {
        "model": evaluation.model, "evaluation_id": evaluation.id, "suite_version": evaluation.suite_version,
        "completed_at": _iso(evaluation.completed_at), "metric": metric, "value": summary.get(metric),
        "ci95": summary.get(f"{metric}_ci95"), "n": summary.get("n_scored"), "baseline_model": evaluation.baseline_model,
        "avg_length": round(lengths[evaluation.id], 1) if evaluation.id in lengths else None,
    }
    row.update({field: summary[field] for field in columns if field in summary})
    return row


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite hands timestamps back without their zone)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def _ranking(session: Session, latest: list[Evaluation]) -> dict[str, Any] | None:
    """Bradley–Terry over every verdict (model A vs its baseline B), Elo scale, baseline anchored.

    A verdict is one battle won by its score, or, when its protocol stores ``details.battle``
    (``{score, weight}``: e.g. strong verdicts counting several battles), that battle.
    """
    scores = defaultdict(list)
    for evaluation_id, score, battle in repo.scores_of(session, [e.id for e in latest]):
        scores[evaluation_id].append(_battle(score, battle))
    battles = [(e.model, _baseline(e), *s) for e in latest for s in scores[e.id] if e.model != _baseline(e)]
    if not battles:
        return None
    strengths = bradley_terry(battles)
    anchors = [_baseline(e) for e in latest]
    anchor = max(sorted(set(anchors)), key=anchors.count)
    if strengths.get(anchor, 0.0) <= 0.0:
        anchor = None  # the baseline never won: no finite anchor, centre on the geometric mean instead
    intervals = bootstrap_elo_intervals(battles, anchor=anchor, n_resamples=BOOTSTRAP_RESAMPLES, seed=0)
    return {
        "method": "bradley_terry", "anchor": anchor, "anchor_rating": 1000.0,
        "elo": {m: _finite(v) for m, v in elo_scores(strengths, anchor=anchor).items()},
        "elo_ci95": {m: [_finite(i[0]), _finite(i[1])] if i else None for m, i in intervals.items()},
    }


def _battle(score: float, battle: Any) -> tuple[float, float]:
    """(score of A, battles it counts as) of one verdict."""
    if isinstance(battle, dict) and battle.get("weight") and battle.get("score") is not None:
        return float(battle["score"]), float(battle["weight"])
    return score, 1.0


def _baseline(evaluation: Evaluation) -> str:
    return evaluation.baseline_model or DEFAULT_BASELINE


def _elo(ranking: dict[str, Any] | None, model: str) -> dict[str, Any]:
    if not ranking:
        return {}
    return {"elo": ranking["elo"].get(model), "elo_ci95": ranking["elo_ci95"].get(model)}


def _finite(value: float | None) -> float | None:
    """JSON has no infinities: a model that never won has no finite Elo."""
    return value if value is not None and math.isfinite(value) else None


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows best first (by Elo where there is one, then by the metric), with their rank."""
    def key(row):
        elo, value = row.get("elo"), row.get("value")
        return (elo is None, -(elo or 0.0), value is None, -(value or 0.0), row["model"])
    ordered = sorted(rows, key=key)
    for rank, row in enumerate(ordered, start=1):
        row["rank"] = rank
    return ordered
