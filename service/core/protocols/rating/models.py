"""The rating protocol's data models: what an item, its options and a review label accept."""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from service.core.options import CalibrationOptions

MIN_SCALE, MAX_SCALE = 2, 9  # scores "1".."9" are single tokens and no label is a prefix of another


DEFAULT_RUBRIC = (
    "Very poor: irrelevant, wrong or unhelpful; does not address the request.",
    "Poor: attempts the request but has major errors or omissions.",
    "Fair: partly correct and helpful, with noticeable mistakes or gaps.",
    "Good: correct and helpful, with only minor issues.",
    "Excellent: fully correct, complete and clear; addresses the request directly.",
)


class RatingItem(BaseModel):
    """One response to a prompt, to be scored on a rubric (default: 1–5 helpfulness/correctness)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    prompt: str
    response: str
    # score descriptions for 1..K, given as a list or a mapping {score: description}; stored as a list
    rubric: list[str] | None = None
    reference: str | None = None
    category: str | None = None
    human_score: int | None = None

    @field_validator("rubric", mode="before")
    @classmethod
    def _rubric_scores(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            value = _rubric_from_mapping(value)
        if isinstance(value, list) and not MIN_SCALE <= len(value) <= MAX_SCALE:
            raise ValueError(f"give a description for each score 1..K with K between {MIN_SCALE} and "
                             f"{MAX_SCALE}; got {len(value)}")
        return value

    @field_validator("human_score")
    @classmethod
    def _human_score_in_scale(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None or "rubric" not in info.data:  # an invalid rubric is reported on its own
            return value
        scale = len(info.data["rubric"] or DEFAULT_RUBRIC)
        if not 1 <= value <= scale:
            raise ValueError(f"must be a score from 1 to {scale} (the rubric's scale)")
        return value

    @property
    def scale(self) -> int:
        """K, the highest score of the item's rubric."""
        return len(self.rubric or DEFAULT_RUBRIC)

    def descriptions(self) -> tuple[str, ...]:
        """The score descriptions 1..K in use (the item's or the default)."""
        return tuple(self.rubric or DEFAULT_RUBRIC)


def _rubric_from_mapping(value: Mapping[Any, Any]) -> list[Any]:
    """A {score: description} mapping (keys 1..K as ints or digit strings) as a list in score order."""
    scores = {}
    for key, description in value.items():
        text = str(key).strip()
        if isinstance(key, bool) or not text.isdigit():
            raise ValueError(f"rubric keys are scores 1..K; not {key!r}")
        scores[int(text)] = description
    if sorted(scores) != list(range(1, len(scores) + 1)):
        raise ValueError(f"rubric keys must be exactly the scores 1..K; got {sorted(scores)}")
    return [scores[s] for s in range(1, len(scores) + 1)]


class RatingOptions(CalibrationOptions):
    """Calibration and sampling options of a rating evaluation (one response: no orders)."""


class RatingReview(BaseModel):
    """A human's score for a rating item (checked against the item's scale when given as context)."""

    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=MAX_SCALE)

    @field_validator("score")
    @classmethod
    def _score_in_item_scale(cls, value: int, info: ValidationInfo) -> int:
        item = (info.context or {}).get("item")
        if isinstance(item, RatingItem) and value > item.scale:
            raise ValueError(f"must be a score from 1 to {item.scale} (the item's rubric)")
        return value


class RatingSuiteItem(BaseModel):
    """A submission's item on a stored suite: the suite gives the rest (prompt, reference, baseline)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256, description="The suite item's id.")
    response: str = Field(description="The candidate model's response to the suite item.")
    human_score: int | None = Field(default=None, ge=1, le=MAX_SCALE, description="A human's score on the suite item's scale, for agreement statistics.")
