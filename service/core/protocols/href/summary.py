"""The href protocol's summary and reliability report, as typed models of what ``summarize()`` returns.

Pure: stdlib, pydantic and ``service.core.report_models`` only (no numpy), for a light client install.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.core.report_models import (
    Agreement,
    Interval95,
    ItemCounts,
    JudgeAgreementFields,
    LengthControlledFields,
    PerOrderAgreement,
    ReportModel,
    TwoResponseHumanAgreementReport,
    TwoResponseReliability,
)

# how a category is judged (as href.models.Method)
HrefMethod = Literal["judge_with_reference", "judge", "embedding"]


class HrefCategorySummary(ReportModel):
    """One category's row of ``per_category``: its win rate against the baseline and how it was judged."""

    n: int = Field(description="Scored items of the category (the top level calls this n_scored).")
    n_unscored: int = Field(description="Items of the category whose judge output (or similarity) was unreadable.")
    n_failed: int = Field(description="Items of the category whose every call failed.")
    win_rate: float | None = Field(
        description="Mean preference for the candidate (tie = ½) over the category's scored items; null when none.")
    win_rate_ci95: Interval95 | None = Field(
        description="Seeded percentile-bootstrap 95% interval of the category's win_rate; null when none scored.")
    method: HrefMethod | None = Field(
        description="How the category is judged under the evaluation's options; null when it has no method "
                    "(default_method null).")


class HrefPerOrderAgreement(PerOrderAgreement):
    """Per-order agreement with the human labels, plus the embedding-decided items as their own "order".

    ``similarity`` is absent when no item was decided by embeddings; absent and null mean the same.
    """

    similarity: Agreement | None = Field(
        default=None,
        description="The embedding-decided items' outcome vs the human labels; absent without embedding items, "
                    "null when none pair up.")


class HrefHumanAgreement(TwoResponseHumanAgreementReport):
    """Judge vs the items' ``human_label`` (a = candidate, b = baseline, tie): calibrated, after review, per order."""

    per_order: HrefPerOrderAgreement = Field(
        description="Agreement per presentation order of judged items, and of the embedding-decided items.")


class HrefSummary(ItemCounts, JudgeAgreementFields, LengthControlledFields):
    """What ``HrefProtocol.summarize`` returns as the summary: the candidate's win rate against the baseline.

    Always present: metric, the item counts, win_rate (+ interval), wins/losses/ties, per_category and
    the three length-control keys (lc_win_rate is null with a reason in lc_note when fewer than 10
    items are scored). The human-agreement keys (n_human_labelled, judge_accuracy, judge_cohen_kappa,
    judge_scott_pi, human_agreement) are present only when some item has a ``human_label``: absent and
    null mean the same.
    """

    metric: Literal["win_rate"] = Field(description="The headline metric's key: win_rate.")
    win_rate: float | None = Field(
        description="Mean preference for the candidate over the baseline (tie = ½) over scored items; null when none.")
    win_rate_ci95: Interval95 | None = Field(
        description="Seeded percentile-bootstrap 95% interval of win_rate over items; null when no item is scored.")
    wins: int = Field(description="Scored items whose outcome is the candidate better.")
    losses: int = Field(description="Scored items whose outcome is the baseline better.")
    ties: int = Field(description="Scored items whose outcome is a tie.")
    per_category: dict[str, HrefCategorySummary] = Field(
        description="Per category (named as first spelled; spellings differing in case, spaces, _ or - merged).")
    human_agreement: HrefHumanAgreement | None = Field(
        default=None, description="Judge–human agreement in full; absent without human labels.")


class HrefReliability(TwoResponseReliability):
    """What ``HrefProtocol.summarize`` returns as the reliability report.

    The two-response report (position consistency, first-position win rate, ties, unscored rate, BPDE,
    calls, reviews) covers only the judged items (judge_with_reference and judge categories); the
    embedding-decided items are counted apart.
    """

    n_judged_items: int = Field(
        description="Items of judged categories (judge_with_reference or judge), the ones the report above covers.")
    n_embedding_items: int = Field(description="Items of embedding categories, decided by similarity, not a judge.")
    embedding_share: float | None = Field(
        description="n_embedding_items / n_items (all items); null when there are no items.")
    embedding_unscored_rate: float | None = Field(
        description="Share of non-failed embedding items whose similarity output was unreadable (before review); "
                    "null when none.")


__all__ = ["HrefCategorySummary", "HrefHumanAgreement", "HrefMethod", "HrefPerOrderAgreement", "HrefReliability",
           "HrefSummary"]
