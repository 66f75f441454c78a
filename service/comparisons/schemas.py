"""Request and response bodies of POST /v1/comparisons."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.core.paired import DecisionRule


class ComparisonCreate(BaseModel):
    """Two evaluations on the same suite, judge and protocol, and the gate's parameters."""

    model_config = ConfigDict(extra="forbid")
    baseline_evaluation_id: str = Field(max_length=64)
    candidate_evaluation_id: str = Field(max_length=64)
    margin: float = Field(default=0.0, ge=0.0, le=1e6, description="Tolerated drop of the metric.")
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="Significance level of the paired test.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    decision_rule: DecisionRule = Field(
        default="bound", description="bound: fail when the upper bound of (candidate − baseline) is below −margin; "
                                     "bound_or_significant: also when the difference is below −margin with p < alpha.")


class ComparisonOut(BaseModel):
    """The paired difference (candidate − baseline) over shared items and the gate's decision."""

    baseline_evaluation_id: str
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
