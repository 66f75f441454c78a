"""The rating protocol's data models: what an item, its options and a review label accept."""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from service.core.options import CalibrationOptions

MIN_SCALE, MAX_SCALE = 2, 9  # scores "1".."9" are single tokens and no label is a prefix of another
MAX_TURNS = 16


DEFAULT_RUBRIC = (
    "Very poor: irrelevant, wrong or unhelpful; does not address the request.",
    "Poor: attempts the request but has major errors or omissions.",
    "Fair: partly correct and helpful, with noticeable mistakes or gaps.",
    "Good: correct and helpful, with only minor issues.",
    "Excellent: fully correct, complete and clear; addresses the request directly.",
)


class RatingItem(BaseModel):
    """One response to a prompt, or a multi-turn conversation (MT-Bench), scored on a rubric (default 1–5).

    Single turn: ``prompt`` and ``response``. Several turns: ``turns`` (the user's questions) and
    ``responses`` (the model's answer to each), optionally ``reference_turns``; each turn is graded.
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    prompt: str | None = Field(default=None, description="A single-turn request (or give turns).")
    response: str | None = Field(default=None, description="The response to prompt.")
    turns: list[str] | None = Field(default=None, min_length=1, max_length=MAX_TURNS,
                                    description="The user's questions of a multi-turn conversation (MT-Bench).")
    responses: list[str] | None = Field(default=None, description="The model's answer to each of turns.")
    reference_turns: list[str | None] | None = Field(
        default=None, description="A reference answer per turn (null for a turn without one).")
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

    @model_validator(mode="after")
    def _single_or_multi_turn(self) -> "RatingItem":
        problem = multi_turn_problem(self.turns, self.responses, self.reference_turns, "responses")
        if problem is None and self.turns is None:
            missing = [f for f in ("prompt", "response") if getattr(self, f) is None]
            problem = (missing[0], "a single-turn item needs 'prompt' and 'response' (or give 'turns' and "
                                   "'responses')") if missing else None
        elif problem is None:
            given = [f for f in ("prompt", "response", "reference") if getattr(self, f) is not None]
            problem = (given[0], "a multi-turn item gives 'turns', 'responses' and 'reference_turns', not "
                                 "'prompt', 'response' or 'reference'") if given else None
        if problem:
            raise field_error(type(self).__name__, *problem)
        return self

    @property
    def multi_turn(self) -> bool:
        """Whether the item is a conversation of turns (each graded) rather than one prompt and response."""
        return self.turns is not None

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


def multi_turn_problem(turns: list[str] | None, responses: list[str] | None,
                       reference_turns: list[str | None] | None, responses_field: str) -> tuple[str, str] | None:
    """(field, message) of what is wrong with a multi-turn item's lists (one response, at most one reference per turn)."""
    if turns is None:
        stray = responses_field if responses is not None else "reference_turns" if reference_turns is not None else None
        return (stray, f"'{stray}' goes with 'turns'") if stray else None
    if responses is None or len(responses) != len(turns):
        return responses_field, f"'{responses_field}' must hold one response per turn ({len(turns)})"
    if reference_turns is not None and len(reference_turns) != len(turns):
        return "reference_turns", f"'reference_turns' must hold one reference (or null) per turn ({len(turns)})"
    return None


def field_error(model: str, field: str, message: str) -> ValidationError:
    """A validation error located at ``field`` (a model validator's own errors carry no location)."""
    return ValidationError.from_exception_data(model, [InitErrorDetails(
        type=PydanticCustomError("item_form", message), loc=(field,), input=None)])


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
    """A submission's item on a stored suite: the suite gives the rest (prompt or turns, references)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256, description="The suite item's id.")
    response: str | None = Field(default=None, description="The candidate model's response to a single-turn suite item.")
    responses: list[str] | None = Field(
        default=None, min_length=1, max_length=MAX_TURNS,
        description="The candidate model's answer to each turn of a multi-turn suite item (MT-Bench: [turn1, turn2]).")
    human_score: int | None = Field(default=None, ge=1, le=MAX_SCALE, description="A human's score on the suite item's scale, for agreement statistics.")

    @model_validator(mode="after")
    def _response_or_responses(self) -> "RatingSuiteItem":
        if (self.response is None) == (self.responses is None):
            raise field_error(type(self).__name__, "response" if self.response is None else "responses",
                              "give 'response' (a single-turn suite item) or 'responses' (one per turn), not both")
        return self
