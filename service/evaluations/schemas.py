"""Request and response bodies of the evaluations API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.core.tags import TagFilter, Tags

Status = Literal["queued", "running", "completed", "failed", "cancelled"]


class EvaluationCreate(BaseModel):
    """Body of POST /v1/evaluations. Items are validated by the protocol's own item model."""

    model_config = ConfigDict(extra="forbid")
    protocol: str = Field(description="A registered protocol's name (GET /v1/protocols).")
    judge: str = Field(description="Name of a configured judge (GET /v1/judges).")
    model: str = Field(min_length=1, max_length=256, description="The candidate model's name.")
    suite: str | None = Field(default=None, max_length=128,
                              description="Run on a stored suite: items then carry `id` and `response` only.")
    suite_version: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                      description="Suite version (default: the latest; needs suite).")
    baseline_model: str | None = Field(default=None, max_length=256,
                                       description="Who wrote response B (default: the suite's baseline model).")
    options: dict[str, Any] = Field(default_factory=dict)
    items: list[dict[str, Any]] = Field(min_length=1)
    webhook_url: str | None = Field(
        default=None, max_length=2048,
        description="Also send this evaluation's webhook events here, signed with the project's default secret "
                    "(GET /v1/webhooks/default-secret).")
    tags: Tags = Field(default_factory=dict)
    leaderboard: bool = Field(
        default=True, description="False: judged and compared like any other evaluation, but never a leaderboard row "
                                  "(e.g. a CI run of a pull request).")


class Progress(BaseModel):
    """How far an evaluation has come."""

    total: int
    done: int
    failed: int
    chunks_total: int
    chunks_done: int


class EvaluationState(BaseModel):
    """What every view of an evaluation holds: who judged what, its state and progress."""

    id: str
    status: Status
    protocol: str
    judge: str
    model: str
    suite: str | None
    suite_version: int | None
    baseline_model: str | None
    progress: Progress
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    tags: dict[str, str] = Field(default_factory=dict, description="The tags set at submission.")
    leaderboard: bool = Field(default=True, description="Whether the evaluation may appear on leaderboards.")
    links: dict[str, str]


class ReliabilityWarningOut(BaseModel):
    """A weakness of the judge's reliability report that a reader of the result must see."""

    code: str = Field(description="Stable identifier, e.g. `low_position_consistency`, `position_bias`.")
    measured: str = Field(description="What was measured, with the threshold it crossed.")
    meaning: str = Field(description="What it means for the result.")


class EvaluationOut(EvaluationState):
    """An evaluation's state and, once completed, its results."""

    status_detail: str | None = None
    waiting_for_worker: bool = False
    options: dict[str, Any]
    summary: dict[str, Any] | None
    reliability: dict[str, Any] | None
    error: str | None
    reviews: dict[str, int] | None = Field(
        default=None, description="Items in the human review queue by status (open items await a label).")
    warnings: list[ReliabilityWarningOut] = Field(
        default_factory=list, description="Warnings the reliability report and summary call for (empty when the "
                                          "judge looks sound or there is no report yet).")


class EvaluationFilters(BaseModel):
    """Filters of GET /v1/evaluations (exact matches; None matches every evaluation)."""

    status: Status | None = None
    suite: str | None = None
    model: str | None = None
    protocol: str | None = None
    judge: str | None = None
    tags: list[TagFilter] = Field(default_factory=list, description="All must match (``key=value`` or ``key``).")


class EvaluationListItem(EvaluationState):
    """One evaluation in a list: its state and headline metric, without options, full summary or reliability."""

    metric: str | None = Field(description="The summary's headline metric (`summary.metric`, e.g. `win_rate`); "
                                            "null until the evaluation has a summary.")
    metric_value: float | None = Field(description="`summary[metric]`; null when nothing was scored.")
    metric_ci95: tuple[float, float] | None = Field(description="`summary[metric + '_ci95']`, its 95% interval.")


class EvaluationPage(BaseModel):
    """A page of evaluations, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    data: list[EvaluationListItem]
    next_cursor: str | None


class JudgmentOut(BaseModel):
    """One stored judge call."""

    order: str
    sample: int
    label: str | None
    label_probs: dict[str, float] | None
    raw_output: str
    rationale: str | None
    prompt_hash: str
    template: str = ""
    fingerprint: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    error: str | None
    cached: bool = False


class VerdictOut(BaseModel):
    """One item's verdict with the judge calls behind it; ``pending`` until its chunk is judged."""

    item_id: str
    position: int
    pending: bool = False
    outcome: str | None = None
    score: float | None = None
    unscored: bool = False
    failed: bool = False
    position_inconsistent: bool = False
    reviewed: bool = False
    details: dict[str, Any] | None = Field(
        default=None, description="Protocol-specific verdict details (per-call results, goals, method, ...).")
    needs_review: bool = False
    bpde: float | None = None
    item: dict[str, Any] | None = None
    judgments: list[JudgmentOut]


class VerdictPage(BaseModel):
    """A page of verdicts; pass ``next_cursor`` as ``cursor`` for the next page."""

    data: list[VerdictOut]
    next_cursor: str | None


class JudgeOut(BaseModel):
    """A configured judge and whether a live worker serves it."""

    name: str
    backend: str
    model: str
    template_version: str
    fingerprint: str
    live_workers: int
    available: bool
