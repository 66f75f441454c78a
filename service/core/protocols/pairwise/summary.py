"""The pairwise protocol's summary and reliability report, as typed models of what ``summarize()`` returns.

Pure: stdlib, pydantic and ``service.core.report_models`` only (no numpy), for a light client install.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.core.report_models import (
    Interval95,
    ReportModel,
    ItemCounts,
    JudgeAgreementFields,
    LengthControlledFields,
    TwoResponseHumanAgreementReport,
    TwoResponseReliability,
)


class PairwiseHumanAgreement(TwoResponseHumanAgreementReport):
    """Judge vs the items' ``human_label`` (a/b/tie): after calibration, after review, and per order (ab, ba)."""


class TurnWinRate(ReportModel):
    """One turn of multi-turn items (MT-Bench's per-turn result)."""

    n: int = Field(description="Scored items with a preference on this turn.")
    win_rate: float = Field(description="Mean preference for A on this turn (tie = ½).")
    win_rate_ci95: Interval95 = Field(description="Seeded percentile-bootstrap 95% interval of the turn's win rate.")


class CategoryWinRate(ReportModel):
    """One category of items."""

    n: int = Field(description="Scored items of the category.")
    win_rate: float | None = Field(description="Mean preference for A in the category; null when none is scored.")
    per_turn: dict[str, float] | None = Field(
        description='Win rate of A on each turn ("1", "2", ...) in the category; null when no item has turns.')


class PairwiseSummary(ItemCounts, JudgeAgreementFields, LengthControlledFields):
    """What ``PairwiseProtocol.summarize`` returns as the summary: the win rate of response A over response B.

    Always present: metric, the item counts, win_rate (+ interval), wins/losses/ties and the three
    length-control keys (lc_win_rate is null with a reason in lc_note when fewer than 10 items are
    scored). The human-agreement keys (n_human_labelled, judge_accuracy, judge_cohen_kappa,
    judge_scott_pi, human_agreement) are present only when some item has a ``human_label``: absent and
    null mean the same.
    """

    metric: Literal["win_rate"] = Field(description="The headline metric's key: win_rate.")
    win_rate: float | None = Field(
        description="Mean preference for A (tie = ½) over scored items; null when no item is scored.")
    win_rate_ci95: Interval95 | None = Field(
        description="Seeded percentile-bootstrap 95% interval of win_rate over items; null when no item is scored.")
    wins: int = Field(description="Scored items whose outcome is A better.")
    losses: int = Field(description="Scored items whose outcome is B better.")
    ties: int = Field(description="Scored items whose outcome is a tie (preference within tie_margin of ½).")
    weighted_win_rate: float | None = Field(
        default=None, description="With scale 5: A's share of the Bradley–Terry battles, a strong verdict counting "
                                  "strong_weight battles (Arena-Hard's score against the baseline); absent on scale 3.")
    per_turn: dict[str, TurnWinRate] | None = Field(
        default=None, description='Each turn ("1", "2", ...) of multi-turn items, a single-turn item counting as turn '
                                  "1 (the judge's turn preferences: a review changes only an item's overall result); "
                                  "absent when no item has turns.")
    per_category: dict[str, CategoryWinRate] | None = Field(
        default=None, description="Each category's scored items and win rate of A; absent when no item has a category.")
    human_agreement: PairwiseHumanAgreement | None = Field(
        default=None, description="Judge–human agreement in full; absent without human labels.")


# identical to the shared two-response report (calibration.reliability_report)
PairwiseReliability = TwoResponseReliability

__all__ = ["CategoryWinRate", "PairwiseHumanAgreement", "PairwiseReliability", "PairwiseSummary", "TurnWinRate"]
