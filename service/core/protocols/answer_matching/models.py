"""The answer_matching protocol's data models: what an item, its options and a review label accept."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.core.options import CalibrationOptions


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a reference answer must not be empty")
    return value


ReferenceAnswer = Annotated[str, AfterValidator(_not_blank)]


class AnswerMatchingItem(BaseModel):
    """One question, a free-form response and the reference answer(s) it should match."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    question: str = Field(min_length=1)
    response: str
    reference_answers: list[ReferenceAnswer] = Field(min_length=1)
    answer_type: Literal["text", "numeric"] = "text"
    tolerance: float = Field(default=1e-6, ge=0.0, allow_inf_nan=False,
                             description="Relative tolerance of a numeric match.")
    category: str | None = None
    human_label: Literal["match", "no_match"] | None = None


class AnswerMatchingOptions(CalibrationOptions):
    """Calibration and sampling options of an answer-matching evaluation."""


class AnswerMatchingReview(BaseModel):
    """A human's verdict on an answer-matching item."""

    model_config = ConfigDict(extra="forbid")
    label: Literal["match", "no_match"]


class AnswerMatchingSuiteItem(BaseModel):
    """A submission's item on a stored suite: the suite gives the rest (prompt, reference, baseline)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256, description="The suite item's id.")
    response: str = Field(description="The candidate model's response to the suite item.")
    human_label: Literal["match", "no_match"] | None = Field(default=None, description="A human's judgement of the match, for agreement statistics.")
