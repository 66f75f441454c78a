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


# Arena-Hard counts a strong verdict (A>>B, B>>A) as three battles
STRONG_WEIGHT = 3


class PairwiseOptions(TwoResponseOptions):
    """Calibration and sampling options of a pairwise evaluation (both orders by default)."""

    scale: Literal[3, 5] = Field(
        default=3, description="Verdict labels: 3 (1, 2, tie) or 5 (Arena-Hard's A>>B, A>B, A=B, B>A, B>>A, "
                               "A being the response shown first).")
    strong_weight: int = Field(
        default=STRONG_WEIGHT, ge=1, le=10, description="With scale 5: the Bradley–Terry battles a strong verdict (A>>B, B>>A) "
                                            "counts as on leaderboards (Arena-Hard: 3).")

    @model_validator(mode="after")
    def _strong_weight_needs_five_points(self) -> "PairwiseOptions":
        # options read back from storage carry the default: only a weight that would change something is refused
        if self.strong_weight != STRONG_WEIGHT and self.scale != 5:
            raise ValueError("strong_weight applies only with scale 5 (the three-label scale has no strong verdict)")
        return self


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
