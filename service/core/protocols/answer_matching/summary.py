"""The answer_matching protocol's summary and reliability report, as typed models of what ``summarize()`` returns.

Pure: stdlib, pydantic and ``service.core.report_models`` only (no numpy), for a light client install.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.core.report_models import (
    HumanAgreementReport,
    Interval95,
    ItemCounts,
    JudgeAgreementFields,
    ReliabilityBasics,
)


class AnswerMatchingHumanAgreement(HumanAgreementReport):
    """Judge vs the items' ``human_label`` (match/no_match): the judge's (or rule's) label, and after review."""


class AnswerMatchingSummary(ItemCounts, JudgeAgreementFields):
    """What ``AnswerMatchingProtocol.summarize`` returns as the summary: accuracy against the reference answers.

    Always present: metric, the item counts, n_match/n_no_match, accuracy (+ Wilson interval), n_rule,
    n_judge and mean_p_match. The human-agreement keys (n_human_labelled, judge_accuracy,
    judge_cohen_kappa, judge_scott_pi, human_agreement) are present only when some item has a
    ``human_label``: absent and null mean the same.
    """

    metric: Literal["accuracy"] = Field(description="The headline metric's key: accuracy.")
    n_match: int = Field(description="Scored items whose response matches a reference answer (rule, judge or review).")
    n_no_match: int = Field(description="Scored items whose response matches no reference answer.")
    accuracy: float | None = Field(
        description="n_match / n_scored (unscored and failed items left out, reported apart); null when none scored.")
    accuracy_ci95: Interval95 | None = Field(
        description="Wilson 95% interval of accuracy; null when no item is scored.")
    n_rule: int = Field(description="Items matched by the rule pre-check (exact or numeric), with no judge call.")
    n_judge: int = Field(
        description="Items sent to the judge (decided, unscored or failed); an item failed before its calls were "
                    "combined records no method and is in neither n_rule nor n_judge.")
    mean_p_match: float | None = Field(
        description="Mean P(match) over scored items (1 for rule matches, the judge's averaged P(yes) otherwise); "
                    "null when none scored.")
    human_agreement: AnswerMatchingHumanAgreement | None = Field(
        default=None, description="Judge–human agreement in full; absent without human labels.")


class AnswerMatchingReliability(ReliabilityBasics):
    """What ``AnswerMatchingProtocol.summarize`` returns as the reliability report: the basics plus the rule's share."""

    rule_decided_rate: float | None = Field(
        description="n_rule / n_items (failed items included in the denominator); null when there are no items.")


__all__ = ["AnswerMatchingHumanAgreement", "AnswerMatchingReliability", "AnswerMatchingSummary"]
