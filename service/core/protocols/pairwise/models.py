"""The pairwise protocol's data models: what an item, its options and a review label accept."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.core.two_responses import TwoResponseOptions


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class PairwiseItem(BaseModel):
    """One comparison: a prompt (or conversation) and two responses to it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    prompt: str | None = None
    conversation: list[Message] | None = Field(default=None, min_length=1)
    response_a: str
    response_b: str
    reference: str | None = None
    rubric: str | None = None
    category: str | None = None
    human_label: Literal["a", "b", "tie"] | None = None

    @model_validator(mode="after")
    def _one_prompt(self) -> "PairwiseItem":
        if (self.prompt is None) == (self.conversation is None):
            raise ValueError("give exactly one of 'prompt' or 'conversation'")
        return self


class PairwiseOptions(TwoResponseOptions):
    """Calibration and sampling options of a pairwise evaluation (both orders by default)."""


class PairwiseReview(BaseModel):
    """A human's verdict on a pairwise item."""

    model_config = ConfigDict(extra="forbid")
    label: Literal["a", "b", "tie"]


class PairwiseSuiteItem(BaseModel):
    """A submission's item on a stored suite: the suite gives the rest (prompt, reference, baseline)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256, description="The suite item's id.")
    response: str = Field(description="The candidate model's response to the suite item.")
    human_label: Literal["a", "b", "tie"] | None = Field(default=None, description="A human's verdict (a, b or tie), for agreement statistics.")
