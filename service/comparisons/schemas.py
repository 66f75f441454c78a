"""Request and response bodies of POST /v1/comparisons."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.comparisons.baselines import BaselineQuery
from service.core.paired import DecisionRule


class ComparisonCreate(BaseModel):
    """Two evaluations on the same suite, judge and protocol, and the gate's parameters."""

    model_config = ConfigDict(extra="forbid")
    baseline_evaluation_id: str | None = Field(default=None, max_length=64,
                                               description="The baseline's id; or give `baseline` instead.")
    baseline: BaselineQuery | None = Field(
        default=None, description="The baseline found by query instead of by id: `{\"latest\": {\"model\": …, "
                                  "\"tags\": {\"branch\": \"main\"}}}`.")
    candidate_evaluation_id: str = Field(max_length=64)
    margin: float = Field(default=0.0, ge=0.0, le=1e6, description="Tolerated drop of the metric.")
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="Significance level of the paired test.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    decision_rule: DecisionRule = Field(
        default="bound", description="bound: fail when the upper bound of (candidate − baseline) is below −margin; "
                                     "bound_or_significant: also when the difference is below −margin with p < alpha.")

    @model_validator(mode="after")
    def _one_baseline(self) -> "ComparisonCreate":
        if (self.baseline_evaluation_id is None) == (self.baseline is None):
            raise ValueError("give exactly one of baseline_evaluation_id and baseline (a query: {\"latest\": {…}})")
        return self


class ComparisonOut(BaseModel):
    """The paired difference (candidate − baseline) over shared items and the gate's decision."""

    baseline_evaluation_id: str
    baseline_query: BaselineQuery | None = Field(
        default=None, description="The query that found the baseline, when the request gave one instead of an id.")
    candidate_evaluation_id: str
    protocol: str
    judge: str
    suite: str | None
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
    decision_rule: str
    rule: str
    n_changed: int = Field(description="Shared items whose value in the metric differs between the runs "
                                       "(GET /v1/comparisons/items lists them).")
    n_improved: int = Field(description="Changed items whose value is higher in the candidate.")
    n_regressed: int = Field(description="Changed items whose value is lower in the candidate.")


class ItemRun(BaseModel):
    """One run's result on an item: its value in the metric, the verdict behind it, and the judged response."""

    value: float = Field(description="The item's value in the metric (1/0 for a counted outcome, else the score).")
    outcome: str | None = Field(description="The verdict's outcome label.")
    score: float | None = Field(description="The verdict's score.")
    response: Any = Field(description="The judged response: the item field the protocol's page view names (the "
                                      "first compared response, or the one response); when it names none, the "
                                      "item's fields other than id and category.")


class ChangedItem(BaseModel):
    """A shared item whose value in the metric differs between the baseline and the candidate."""

    item_id: str
    category: str | None
    change: Literal["improved", "regressed"] = Field(description="improved: higher in the candidate.")
    difference: float = Field(description="candidate value − baseline value.")
    baseline: ItemRun
    candidate: ItemRun
    item: dict[str, Any] = Field(description="The baseline run's stored item (prompt, references, …), for context.")


class ChangedItemPage(BaseModel):
    """A page of changed items, largest change first; pass ``next_cursor`` as ``cursor`` for the next page."""

    baseline_evaluation_id: str
    candidate_evaluation_id: str
    protocol: str
    metric: str
    response_field: str | None = Field(description="The item field shown as each run's response (null: the item).")
    categories: dict[str, int] = Field(description="Changed items per category over every category (`\"\"`: none), "
                                                   "whatever the `category` filter.")
    n_changed: int = Field(description="Changed items that pass the filters.")
    data: list[ChangedItem]
    next_cursor: str | None
