"""Compute a leaderboard snapshot from stored verdicts (run by the aggregation job, never by a poll)."""

from __future__ import annotations

import hashlib
import math
import json
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from service.core.length_control import bootstrap_lc_interval, length_controlled_win_rate
from service.core.ranking import bootstrap_elo_intervals, bradley_terry, elo_scores
from service.leaderboards import repository as repo
from service.models import Evaluation

DEFAULT_BASELINE = "baseline"
BOOTSTRAP_RESAMPLES = 200
PAIRWISE_PROTOCOLS = ("pairwise", "href")


def refresh(session: Session, suite: str, protocol: str, judge: str) -> str:
    """Recompute and store the snapshot of one leaderboard; returns its ETag."""
    evaluations = repo.completed_evaluations(session, suite, protocol, judge)
    latest = list({e.model: e for e in evaluations}.values())  # oldest first, so the last run per model wins
    scored = repo.scored_items(session, [e.id for e in evaluations])
    by_evaluation: dict[str, list[tuple[str, float, dict]]] = defaultdict(list)
    for evaluation_id, item_key, score, payload in scored:
        by_evaluation[evaluation_id].append((item_key, score, payload))
    rows = {e.id: _row(e, by_evaluation[e.id], protocol) for e in evaluations}
    ranking = _ranking(latest, by_evaluation) if protocol in PAIRWISE_PROTOCOLS else None
    if ranking:
        for evaluation in latest:
            rows[evaluation.id].update(elo=ranking["elo"].get(evaluation.model),
                                       elo_ci95=ranking["elo_ci95"].get(evaluation.model))
    body = {
        "suite": suite, "protocol": protocol, "judge": judge,
        "metric": rows[evaluations[0].id]["metric"] if evaluations else None,
        "latest": _ranked([rows[e.id] for e in latest]),
        "all": [rows[e.id] for e in evaluations],
        "ranking": {k: v for k, v in ranking.items() if k in ("method", "anchor", "anchor_rating")} if ranking else None,
    }
    etag = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]
    repo.put_snapshot(session, suite, protocol, judge, etag, body)
    return etag


def _row(evaluation: Evaluation, scored: list[tuple[str, float, dict]], protocol: str) -> dict[str, Any]:
    summary = evaluation.summary or {}
    metric = summary.get("metric", "score")
    row = {
        "model": evaluation.model, "evaluation_id": evaluation.id, "suite_version": evaluation.suite_version,
        "completed_at": evaluation.completed_at.isoformat() if evaluation.completed_at else None,
        "metric": metric, "value": summary.get(metric), "ci95": summary.get(f"{metric}_ci95"),
        "n": summary.get("n_scored", len(scored)), "baseline_model": evaluation.baseline_model,
    }
    if protocol in PAIRWISE_PROTOCOLS:
        row.update(_length_controlled(scored, evaluation.options.get("seed", 0)))
    return row


def _length_controlled(scored: list[tuple[str, float, dict]], seed: int) -> dict[str, Any]:
    """AlpacaEval-2.0-style length-controlled win rate of A against the baseline (B)."""
    preferences = [score for _, score, _ in scored]
    differences = [len(p.get("response_a", "")) - len(p.get("response_b", "")) for _, _, p in scored]
    result = length_controlled_win_rate(preferences, differences)
    interval = (bootstrap_lc_interval(preferences, differences, seed=seed, n_resamples=BOOTSTRAP_RESAMPLES)
                if result.lc_win_rate is not None else None)
    return {"lc_win_rate": result.lc_win_rate, "lc_win_rate_ci95": interval, "lc_note": result.reason}


def _ranking(latest: list[Evaluation], by_evaluation: dict) -> dict[str, Any] | None:
    """Bradley–Terry over every verdict (model A vs its baseline B), Elo scale, baseline anchored."""
    battles = [
        (e.model, e.baseline_model or DEFAULT_BASELINE, score)
        for e in latest for _, score, _ in by_evaluation[e.id]
        if e.model != (e.baseline_model or DEFAULT_BASELINE)
    ]
    if not battles:
        return None
    strengths = bradley_terry(battles)
    anchors = [e.baseline_model or DEFAULT_BASELINE for e in latest]
    anchor = max(set(anchors), key=anchors.count)
    if strengths.get(anchor, 0.0) <= 0.0 or any(s <= 0.0 for s in strengths.values()):
        anchor = None  # a model without a single win has no finite Elo; fall back to the geometric mean
    return {
        "method": "bradley_terry", "anchor": anchor, "anchor_rating": 1000.0,
        "elo": {m: _finite(v) for m, v in elo_scores(strengths, anchor=anchor).items()},
        "elo_ci95": {
            m: [_finite(low), _finite(high)] if interval else None
            for m, interval in bootstrap_elo_intervals(battles, anchor=anchor, n_resamples=BOOTSTRAP_RESAMPLES,
                                                       seed=0).items()
            for low, high in [interval or (None, None)]
        },
    }


def _finite(value: float | None) -> float | None:
    """JSON has no infinities: a model that never won has no finite Elo."""
    return value if value is not None and math.isfinite(value) else None


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows best first (by Elo where there is one, else by the metric), with their rank."""
    def key(row):
        primary = row.get("elo") if row.get("elo") is not None else row.get("value")
        return (-(primary if primary is not None else float("-inf")), row["model"])
    ordered = sorted(rows, key=key)
    for rank, row in enumerate(ordered, start=1):
        row["rank"] = rank
    return ordered
