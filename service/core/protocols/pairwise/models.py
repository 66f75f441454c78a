"""The pairwise protocol's data models: what an item, its options and a review label accept."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from service.core.self_reference import DEFAULT_ANSWER_TOKENS, MODE_DESCRIPTION, TOKENS_DESCRIPTION, SelfReferenceMode
from service.core.two_responses import TwoResponseOptions


MAX_TURNS = 16


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class PairwiseItem(BaseModel):
    """One comparison: a prompt (or conversation) and two responses to it, or two models' multi-turn answers.

    Multi-turn (MT-Bench): ``turns`` (the user's questions) with ``responses_a`` and ``responses_b`` (each
    model's answer to every turn) and optionally ``reference_turns``; every turn is compared, a later
    turn over both models' whole conversations.
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    prompt: str | None = None
    conversation: list[Message] | None = Field(default=None, min_length=1)
    response_a: str | None = Field(default=None, description="Response A (required unless turns are given).")
    response_b: str | None = Field(default=None, description="Response B (required unless turns are given).")
    turns: list[str] | None = Field(default=None, min_length=1, max_length=MAX_TURNS,
                                    description="The user's questions of a multi-turn comparison (MT-Bench).")
    responses_a: list[str] | None = Field(default=None, description="A's answer to each of turns.")
    responses_b: list[str] | None = Field(default=None, description="B's answer to each of turns.")
    reference_turns: list[str | None] | None = Field(
        default=None, description="A reference answer per turn (null for a turn without one).")
    reference: str | None = None
    rubric: str | None = None
    category: str | None = None
    human_label: Literal["a", "b", "tie"] | None = None

    @model_validator(mode="after")
    def _one_prompt(self) -> "PairwiseItem":
        problem = self._turns_problem() if self.turns is not None else self._single_problem()
        if problem:
            raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                type=PydanticCustomError("item_form", problem[1]), loc=(problem[0],), input=None)])
        return self

    def _single_problem(self) -> tuple[str, str] | None:
        if (self.response_a is not None and self.response_b is not None and self.responses_a is None
                and self.responses_b is None and self.reference_turns is None
                and (self.prompt is None) != (self.conversation is None)):
            return None  # the usual item, checked without building lists
        if (self.prompt is None) == (self.conversation is None):
            return "prompt", "give exactly one of 'prompt', 'conversation' or 'turns'"
        stray = [f for f in ("responses_a", "responses_b", "reference_turns") if getattr(self, f) is not None]
        if stray:
            return stray[0], f"'{stray[0]}' goes with 'turns'"
        missing = [f for f in ("response_a", "response_b") if getattr(self, f) is None]
        return (missing[0], "Field required") if missing else None

    def _turns_problem(self) -> tuple[str, str] | None:
        given = [f for f in ("prompt", "conversation", "response_a", "response_b", "reference")
                 if getattr(self, f) is not None]
        if given:
            return given[0], ("a multi-turn item gives 'turns', 'responses_a', 'responses_b' and 'reference_turns', "
                              f"not '{given[0]}'")
        n = len(self.turns or [])
        for field in ("responses_a", "responses_b"):
            if getattr(self, field) is None or len(getattr(self, field)) != n:
                return field, f"'{field}' must hold one response per turn ({n})"
        if self.reference_turns is not None and len(self.reference_turns) != n:
            return "reference_turns", f"'reference_turns' must hold one reference (or null) per turn ({n})"
        return None

    def has_reference(self) -> bool:
        """Whether a human-written reference answer comes with the (first turn's) request."""
        return bool(self.reference or (self.reference_turns or [None])[0])

    @property
    def multi_turn(self) -> bool:
        """Whether every turn of a conversation is compared (``turns``) rather than one pair of responses."""
        return self.turns is not None

    def full_text(self, side: str) -> str:
        """All of one side's response text (every turn of a multi-turn item), for length control."""
        answers = getattr(self, f"responses_{side}")
        return "\n".join(answers) if answers is not None else getattr(self, f"response_{side}") or ""


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
    self_reference: SelfReferenceMode = Field(default=False, description=MODE_DESCRIPTION)
    self_answer_tokens: int = Field(default=DEFAULT_ANSWER_TOKENS, ge=16, le=4096, description=TOKENS_DESCRIPTION)

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
    response: str | None = Field(default=None, description="The candidate model's response to a single-turn suite item.")
    responses: list[str] | None = Field(
        default=None, min_length=1, max_length=MAX_TURNS,
        description="The candidate model's answer to each turn of a multi-turn suite item (MT-Bench: [turn1, turn2]).")
    human_label: Literal["a", "b", "tie"] | None = Field(default=None, description="A human's verdict (a, b or tie), for agreement statistics.")

    @model_validator(mode="after")
    def _response_or_responses(self) -> "PairwiseSuiteItem":
        if (self.response is None) == (self.responses is None):
            field = "response" if self.response is None else "responses"
            raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                type=PydanticCustomError("item_form", "give 'response' (a single-turn suite item) or 'responses' "
                                                      "(one per turn), not both"), loc=(field,), input=None)])
        return self
