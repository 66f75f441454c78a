"""The goal_success protocol's summary and reliability report, as typed models of what ``summarize()`` returns.

Pure: stdlib, pydantic and ``service.core.report_models`` only (no numpy), for a light client install.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.core.report_models import (
    Agreement,
    HumanAgreementReport,
    Interval95,
    ItemCounts,
    JudgeAgreementFields,
    ReliabilityBasics,
    ReportModel,
)


class RootCauseDistribution(ReportModel):
    """Root causes among the judged goals that were not achieved.

    ``counts`` and ``shares`` have one key per cause of the evaluation's taxonomy (in its order, zero
    counts included), then any other cause found (a review may name one), then ``unspecified`` for
    failures without a cause.
    """

    n_failed: int = Field(description="Judged goals not achieved (not failed items: see the summary's n_failed).")
    counts: dict[str, int] = Field(description="Failed goals per root cause.")
    shares: dict[str, float | None] = Field(
        description="counts / n_failed per root cause; every share null when no goal failed.")


class GoalSuccessHumanAgreement(HumanAgreementReport):
    """Per-goal agreement with the items' ``human_labels`` (achieved / not_achieved), plus root-cause agreement."""

    n_human_labelled: int = Field(description="Goals that carry a human label.")
    root_cause: Agreement | None = Field(
        description="The judge's root cause vs the human's, over goals both call not achieved and both give a cause; "
                    "null when there are none.")


class GoalSuccessSummary(ItemCounts, JudgeAgreementFields):
    """What ``GoalSuccessProtocol.summarize`` returns as the summary: the goal-level success rate.

    Counts without ``goal`` in their name are items (conversations). Always present: metric,
    goal_success_rate (+ Wilson interval), the goal counts, root_causes, the item counts and
    n_items_all_achieved. The human-agreement keys (n_human_labelled, judge_accuracy,
    judge_cohen_kappa, judge_scott_pi, human_agreement) are present only when some item has
    ``human_labels``: absent and null mean the same.
    """

    metric: Literal["goal_success_rate"] = Field(description="The headline metric's key: goal_success_rate.")
    goal_success_rate: float | None = Field(
        description="Achieved goals / judged goals over all items (reviews count); null when no goal was judged.")
    goal_success_rate_ci95: Interval95 | None = Field(
        description="Wilson 95% interval of goal_success_rate; null when no goal was judged.")
    n_goals: int = Field(description="Goals found (given, or from segmentation) over all items.")
    n_goals_judged: int = Field(description="Goals with a verdict (achieved or not).")
    n_goals_achieved: int = Field(description="Judged goals that were achieved.")
    n_goals_unscored: int = Field(description="Goals no call gave a readable verdict for (n_goals − n_goals_judged).")
    root_causes: RootCauseDistribution = Field(description="Root causes of the judged goals not achieved.")
    n_items_all_achieved: int = Field(description="Scored items whose every judged goal was achieved.")
    n_human_labelled: int | None = Field(
        default=None, description="Goals that carry a human label (all of them, judged or not).")
    judge_accuracy: float | None = Field(
        default=None,
        description="Share of human-labelled goals the judge judged where its achieved / not achieved equals the "
                    "human's.")
    human_agreement: GoalSuccessHumanAgreement | None = Field(
        default=None, description="Judge–human agreement in full; absent without human labels.")


class GoalSuccessReliability(ReliabilityBasics):
    """What ``GoalSuccessProtocol.summarize`` returns as the reliability report: the basics over goal calls, plus
    segmentation failures."""

    n_calls_scored: int = Field(description="Goal calls that produced a readable code (segmentation calls excluded).")
    n_segmented_items: int = Field(description="Items without given goals, whose goals a segmentation call found.")
    n_segmentation_failed: int = Field(
        description="Segmented items whose segmentation is not usable (failed, unparseable or not made).")
    segmentation_failure_rate: float | None = Field(
        description="n_segmentation_failed / n_segmented_items; null when no item was segmented.")


__all__ = ["GoalSuccessHumanAgreement", "GoalSuccessReliability", "GoalSuccessSummary", "RootCauseDistribution"]
