"""Typed views of the service's responses.

Every model allows fields it does not know, so a newer server never breaks an older client; the
raw JSON is in ``model_extra`` / ``model_dump()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

TERMINAL_STATUSES = ("completed", "failed", "cancelled")

# the regression gate's decision rules (POST /v1/comparisons ``decision_rule``, ``submit --gate-rule``); the
# server's are service/core/paired.py's, which needs numpy: tests/service/client/test_typed_client.py keeps them equal
DecisionRule = Literal["bound", "bound_or_significant"]
DECISION_RULES: tuple[str, ...] = get_args(DecisionRule)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Progress(_Model):
    total: int = 0
    done: int = 0
    failed: int = 0
    chunks_total: int = 0
    chunks_done: int = 0

    @property
    def finished(self) -> int:
        """Items judged or failed."""
        return self.done + self.failed


class _EvaluationState(_Model):
    """What every view of an evaluation holds: who judged what, its state and progress."""

    id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"] | str
    protocol: str
    judge: str
    model: str
    suite: str | None = None
    suite_version: int | None = None
    baseline_model: str | None = None
    progress: Progress = Field(default_factory=Progress)
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    leaderboard: bool = True
    links: dict[str, str] = Field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """Completed, failed or cancelled: nothing will change any more (except by human review)."""
        return self.status in TERMINAL_STATUSES


class Evaluation(_EvaluationState):
    """GET /v1/evaluations/{id}: the evaluation with its options, results and review counts."""

    status_detail: str | None = None
    waiting_for_worker: bool = False
    options: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] | None = None
    reliability: dict[str, Any] | None = None
    error: str | None = None
    reviews: dict[str, int] | None = None

    @property
    def metric(self) -> str | None:
        """Name of the main metric (``summary.metric``), e.g. ``win_rate``."""
        if self.summary and self.summary.get("metric"):
            return str(self.summary["metric"])
        return None

    @property
    def metric_value(self) -> float | None:
        """``summary[summary.metric]``, or None before completion or when nothing was scored."""
        value = (self.summary or {}).get(self.metric or "")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def metric_ci95(self) -> tuple[float, float] | None:
        value = (self.summary or {}).get(f"{self.metric}_ci95")
        return (float(value[0]), float(value[1])) if isinstance(value, (list, tuple)) and len(value) == 2 \
            and all(isinstance(v, (int, float)) for v in value) else None


class EvaluationListItem(_EvaluationState):
    """One row of GET /v1/evaluations: state, progress and the headline metric (no options, summary or report)."""

    metric: str | None = None
    metric_value: float | None = None
    metric_ci95: tuple[float, float] | None = None


class EvaluationPage(_Model):
    data: list[EvaluationListItem]
    next_cursor: str | None = None


class Judgment(_Model):
    order: str
    sample: int = 0
    label: str | None = None
    label_probs: dict[str, float] | None = None
    raw_output: str = ""
    rationale: str | None = None
    prompt_hash: str = ""
    template: str = ""
    fingerprint: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    error: str | None = None
    cached: bool = False


class Verdict(_Model):
    item_id: str
    position: int
    pending: bool = False
    outcome: str | None = None
    score: float | None = None
    unscored: bool = False
    failed: bool = False
    position_inconsistent: bool = False
    reviewed: bool = False
    details: dict[str, Any] | None = None
    needs_review: bool = False
    bpde: float | None = None
    item: dict[str, Any] | None = None
    judgments: list[Judgment] = Field(default_factory=list)


class VerdictPage(_Model):
    data: list[Verdict]
    next_cursor: str | None = None


class Review(_Model):
    id: str
    evaluation_id: str
    item_id: str
    status: str
    bpde: float | None = None
    item: dict[str, Any] = Field(default_factory=dict)
    verdict: dict[str, Any] = Field(default_factory=dict)
    judgments: list[Judgment] = Field(default_factory=list)
    label: dict[str, Any] | None = None
    reviewer: str | None = None
    note: str | None = None
    created_at: datetime | None = None
    reviewed_at: datetime | None = None
    links: dict[str, str] = Field(default_factory=dict)


class ReviewPage(_Model):
    data: list[Review]
    next_cursor: str | None = None


class LeaderboardRow(_Model):
    model: str
    evaluation_id: str
    metric: str | None = None
    value: float | None = None
    ci95: list[float] | None = None
    n: int | None = None
    rank: int | None = None
    suite_version: int | None = None
    completed_at: str | None = None
    baseline_model: str | None = None
    elo: float | None = None
    elo_ci95: list[float] | None = None
    lc_win_rate: float | None = None
    lc_win_rate_ci95: list[float] | None = None
    lc_note: str | None = None


class Leaderboard(_Model):
    suite: str
    suite_version: int | None = None
    protocol: str
    judge: str | None = None
    metric: str | None = None
    runs: str = "latest"
    rows: list[LeaderboardRow] = Field(default_factory=list)
    ranking: dict[str, Any] | None = None
    metric_kind: dict[str, Any] | None = Field(default=None, description="How an item counts in the metric (kind, "
                                                                        "range, counted_outcome).")
    columns: list[str] = Field(default_factory=list, description="The protocol's extra row fields, e.g. an LC "
                                                                 "win rate.")
    # set by the client, not the server
    etag: str | None = None
    not_modified: bool = Field(default=False, description="True when the server answered 304 and this is the cached copy.")


class Comparison(_Model):
    baseline_evaluation_id: str
    baseline_query: dict[str, Any] | None = None  # the query that found the baseline (``{"latest": {…}}``)
    candidate_evaluation_id: str
    protocol: str
    judge: str
    suite: str | None = None
    metric: str
    n_shared: int
    mean_baseline: float
    mean_candidate: float
    difference: float
    difference_ci95: tuple[float, float]
    p_value: float
    test: str
    margin: float
    alpha: float
    decision: str
    decision_rule: str | None = None  # absent from servers older than the rule's choice
    rule: str = ""
    # shared items whose value differs between the runs (absent from older servers)
    n_changed: int | None = None
    n_improved: int | None = None
    n_regressed: int | None = None

    @property
    def passed(self) -> bool:
        return self.decision == "pass"


class Judge(_Model):
    name: str
    backend: str
    model: str
    template_version: str = ""
    fingerprint: str = ""
    live_workers: int = 0
    available: bool = False


class Suite(_Model):
    name: str
    version: int
    n_items: int | None = None
    description: str | None = None
    baseline_model: str | None = None
    created_at: datetime | None = None


class SuiteDetail(Suite):
    """GET /v1/suites/{name}[/versions/{version}]: a suite version with one page of its items."""

    items: list[dict[str, Any]] = Field(default_factory=list)
    next_cursor: str | None = None


class RatingVsRanking(_Model):
    """POST /v1/analyses/rating-vs-ranking: agreement of score-implied preferences with comparison verdicts."""

    model_x: str
    model_y: str
    rating_x_evaluation_id: str
    rating_y_evaluation_id: str
    pairwise_evaluation_id: str
    n_items: int
    n_agree: int
    agreement_rate: float | None = None
    agreement_rate_ci95: tuple[float, float] | None = None
    disagreement_rate: float | None = None
    matrix: dict[str, dict[str, int]] = Field(default_factory=dict)
    cohen_kappa: float | None = None
    warnings: list[str] = Field(default_factory=list)
    disagreements: list[dict[str, Any]] = Field(default_factory=list)


class ProtocolInfo(_Model):
    """One protocol of GET /v1/protocols: what it accepts (JSON Schemas) and reports."""

    name: str
    description: str
    headline_metric: str
    metric_kind: dict[str, Any] = Field(default_factory=dict)
    leaderboard: dict[str, Any] = Field(default_factory=dict)
    label_form: dict[str, Any] = Field(default_factory=dict)
    page_view: dict[str, Any] = Field(default_factory=dict)
    schemas: dict[str, Any] = Field(default_factory=dict)
