"""Request and response bodies of POST /v1/analyses/rating-vs-ranking."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Preference = Literal["x", "tie", "y"]


class RatingVsRankingCreate(BaseModel):
    """Two completed evaluations that score one response each (models X and Y) and one completed comparison evaluation of X (response A)
    against Y (response B), on the same suite or sharing item ids."""

    model_config = ConfigDict(extra="forbid")
    rating_x_evaluation_id: str = Field(max_length=64, description="X's responses, each rated on its own.")
    rating_y_evaluation_id: str = Field(max_length=64, description="Y's responses, each rated on its own.")
    pairwise_evaluation_id: str = Field(max_length=64, description="X (response A) against Y (response B).")


class VerdictLinks(BaseModel):
    """Where each of an item's three verdicts is (GET, with its judge calls)."""

    rating_x: str
    rating_y: str
    comparison: str


class Disagreement(BaseModel):
    """A shared item whose ratings imply another preference than its comparison verdict."""

    item_id: str
    score_x: float
    score_y: float
    from_scores: Preference = Field(description="The preference the scores imply: x (X scored higher), y, or tie.")
    from_comparison: Preference = Field(description="The comparison verdict: x (A = X better), y, or tie.")
    links: VerdictLinks


class RatingVsRankingOut(BaseModel):
    """Agreement between score-implied preferences and comparison verdicts on the items the three evaluations share."""

    model_x: str
    model_y: str
    rating_x_evaluation_id: str
    rating_y_evaluation_id: str
    pairwise_evaluation_id: str
    n_items: int = Field(description="Items with a scored verdict in all three evaluations.")
    n_agree: int
    agreement_rate: float | None
    agreement_rate_ci95: tuple[float, float] | None = Field(description="Wilson 95% interval.")
    disagreement_rate: float | None
    matrix: dict[Preference, dict[Preference, int]] = Field(
        description="Counts: rows are the ratings' preference, columns the comparison verdict's.")
    cohen_kappa: float | None = Field(description="Cohen's κ between the two preferences (x/tie/y).")
    ties: dict[Literal["from_scores", "from_comparison"], int]
    warnings: list[str] = Field(description="E.g. model names that do not line up across the three evaluations.")
    disagreements: list[Disagreement]
