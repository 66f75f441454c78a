"""The rating protocol's summary and reliability report, as typed models of what ``summarize()`` returns.

Pure: stdlib, pydantic and ``service.core.report_models`` only (no numpy), for a light client install.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.core.report_models import (
    HumanAgreementReport,
    Interval95,
    ItemCounts,
    ReliabilityBasics,
    ReportModel,
)

# A score label "1".."9": rubrics have 2..9 scores (rating.models.MAX_SCALE; single-token digits).
ScoreLabel = Literal["1", "2", "3", "4", "5", "6", "7", "8", "9"]


class RatingHumanAgreement(HumanAgreementReport):
    """Judge vs the items' ``human_score`` as labels "1".."K": the judge's rounded score, and after review."""


class TurnScore(ReportModel):
    """One turn of multi-turn items (MT-Bench's "first turn" / "second turn" rows)."""

    n: int = Field(description="Scored items with a score for this turn.")
    mean_score: float = Field(description="Mean of the turn's scores (1..K).")
    mean_score_ci95: Interval95 = Field(
        description="Seeded percentile-bootstrap 95% interval of the turn's mean over items.")


class CategoryScore(ReportModel):
    """One category of items (MT-Bench's per-category scores)."""

    n: int = Field(description="Scored items of the category.")
    mean_score: float | None = Field(description="Mean item score of the category; null when none is scored.")
    per_turn: dict[str, float] | None = Field(
        description='Mean score of each turn ("1", "2", ...) in the category; null when no item has turns.')


class RatingSummary(ItemCounts, ReportModel):
    """What ``RatingProtocol.summarize`` returns as the summary: the mean score on a 1..K rubric.

    Always present: metric, the item counts, scale_max, mean_score (+ interval) and score_histogram.
    per_turn is present when some item has turns (MT-Bench), per_category when some item has a category.
    The human-agreement keys (n_human_scored, pearson_r, spearman_rho, exact_agreement_rate,
    judge_cohen_kappa, judge_scott_pi, human_agreement) are present only when some item has a
    ``human_score``: absent and null mean the same.
    """

    metric: Literal["mean_score"] = Field(description="The headline metric's key: mean_score.")
    scale_max: int = Field(description="K, the largest rubric scale among the items (5 for the default rubric).")
    mean_score: float | None = Field(
        description="Mean score (1..K; a soft expected value when probabilities exist) over scored items; null when "
                    "none.")
    mean_score_ci95: Interval95 | None = Field(
        description="Seeded percentile-bootstrap 95% interval of mean_score over items; null when no item is scored.")
    score_histogram: dict[ScoreLabel, int] = Field(
        description='Scored items per rounded score, one key per score "1".."scale_max" (zero counts included).')
    per_turn: dict[str, TurnScore] | None = Field(
        default=None, description='Each turn ("1", "2", ...) of multi-turn items, a single-turn item counting as turn '
                                  '1 (the judge\'s turn scores: a review changes only an item\'s overall score); '
                                  'absent when no item has turns.')
    per_category: dict[str, CategoryScore] | None = Field(
        default=None, description="Each category's scored items and mean score; absent when no item has a category.")
    n_human_scored: int | None = Field(
        default=None,
        description="Items with both a human score and a judge score: the pairs behind pearson_r and spearman_rho.")
    pearson_r: float | None = Field(
        default=None,
        description="Pearson correlation of the judge's own scores with the human scores; null with fewer than 3 "
                    "pairs or a constant side.")
    spearman_rho: float | None = Field(
        default=None,
        description="Spearman rank correlation of the judge's own scores with the human scores; null as pearson_r.")
    exact_agreement_rate: float | None = Field(
        default=None, description="Share of those pairs where the judge's rounded score equals the human score.")
    judge_cohen_kappa: float | None = Field(
        default=None, description="Cohen's kappa between the judge's rounded scores and the human scores (as labels).")
    judge_scott_pi: float | None = Field(
        default=None, description="Scott's pi between the judge's rounded scores and the human scores (as labels).")
    human_agreement: RatingHumanAgreement | None = Field(
        default=None, description="Judge–human agreement in full; absent without human scores.")


class RatingReliability(ReliabilityBasics):
    """What ``RatingProtocol.summarize`` returns as the reliability report: the basics plus the sample spread."""

    mean_score_sd: float | None = Field(
        description="Mean over items of the standard deviation of their sampled calls' scores (items with ≥ 2 scored "
                    "calls); null with samples = 1 or no such item.")


__all__ = ["CategoryScore", "RatingHumanAgreement", "RatingReliability", "RatingSummary", "ScoreLabel", "TurnScore"]
