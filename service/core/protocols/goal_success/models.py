"""The goal_success protocol's data models: what an item, its options and a review label accept."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.core.options import CalibrationOptions

ACHIEVED = "achieved"


GOAL_ORDER_PREFIX = "goal:"


MAX_GOAL_ID = 64 - len(GOAL_ORDER_PREFIX)  # order keys are at most 64 characters


MAX_GIVEN_GOALS = 64


# Single-token answer codes: "A" = achieved, then one letter per root cause in taxonomy order.
CODE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


ROOT_CAUSE_HINTS = {
    "misunderstood_intent": "the assistant misunderstood what the user wanted",
    "incorrect_information": "the assistant gave wrong or unsupported information",
    "incomplete_answer": "the assistant addressed the goal only in part",
    "retrieval_failure": "the assistant failed to find or use information it needed",
    "tool_or_action_failure": "an action or tool the goal needed failed or was not carried out",
    "policy_violation": "the assistant broke the quality standards or a policy",
    "conversation_management": "poor handling of the dialogue: no clarifying question, premature end, loops",
    "other": "any other reason",
}


DEFAULT_ROOT_CAUSES = tuple(ROOT_CAUSE_HINTS)


class Turn(BaseModel):
    """One turn of the conversation."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system"]
    content: str


class Goal(BaseModel):
    """A user goal given with the item; ``turns`` is its 0-based inclusive [start, end] span."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=MAX_GOAL_ID)
    description: str = Field(min_length=1)
    success_criteria: str | None = None
    turns: tuple[int, int] | None = None

    @field_validator("turns")
    @classmethod
    def _ordered_span(cls, turns: tuple[int, int] | None) -> tuple[int, int] | None:
        if turns is not None and not 0 <= turns[0] <= turns[1]:
            raise ValueError("turns must be [start, end] with 0 <= start <= end")
        return turns


class GoalLabel(BaseModel):
    """A human's label of one goal: achieved, or not with an optional root cause."""

    model_config = ConfigDict(extra="forbid")
    achieved: bool
    root_cause: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _cause_only_on_failure(self) -> "GoalLabel":
        if self.achieved and self.root_cause is not None:
            raise ValueError("root_cause is given only for a goal that was not achieved")
        return self


class GoalSuccessItem(BaseModel):
    """A multi-turn conversation, optionally with its user goals, standards and human labels."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    conversation: list[Turn] = Field(min_length=1)
    goals: list[Goal] | None = Field(default=None, min_length=1, max_length=MAX_GIVEN_GOALS)
    standards: str | None = None
    category: str | None = None
    human_labels: dict[str, GoalLabel] | None = None

    @field_validator("conversation")
    @classmethod
    def _has_user_turn(cls, conversation: list[Turn]) -> list[Turn]:
        if not any(turn.role == "user" for turn in conversation):
            raise ValueError("the conversation needs at least one user turn")
        return conversation

    @field_validator("goals")
    @classmethod
    def _goals_fit(cls, goals: list[Goal] | None, info: ValidationInfo) -> list[Goal] | None:
        ids = [g.id for g in goals or []]
        duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
        if duplicates:
            raise ValueError(f"goal ids must be unique; repeated: {duplicates}")
        n_turns = len(info.data.get("conversation") or [])
        for index, goal in enumerate(goals or []):
            if n_turns and goal.turns is not None and goal.turns[1] >= n_turns:
                raise ValueError(f"goal {index} ({goal.id!r}): turns end {goal.turns[1]} is past the last turn "
                                 f"({n_turns - 1})")
        return goals

    @field_validator("human_labels")
    @classmethod
    def _labels_name_goals(cls, labels: dict[str, GoalLabel] | None, info: ValidationInfo) -> Any:
        known = {g.id for g in info.data.get("goals") or []}
        unknown = sorted(set(labels or {}) - known)
        if unknown:
            raise ValueError(f"human_labels must name given goals; unknown: {unknown}")
        return labels


class GoalSuccessOptions(CalibrationOptions):
    """Calibration options plus the root-cause taxonomy and the segmentation limit."""

    root_causes: list[str] = Field(default_factory=lambda: list(DEFAULT_ROOT_CAUSES), min_length=1,
                                   max_length=len(CODE_LETTERS) - 1)
    max_goals: int = Field(default=8, ge=1, le=32, description="Most goals a segmentation may produce.")

    @field_validator("root_causes")
    @classmethod
    def _distinct_names(cls, names: list[str]) -> list[str]:
        cleaned = [n.strip() for n in names]
        if any(not n or len(n) > 64 or "\n" in n for n in cleaned):
            raise ValueError("root causes are non-empty one-line names of at most 64 characters")
        if len(set(cleaned)) != len(cleaned) or ACHIEVED in cleaned:
            raise ValueError(f"root causes must be distinct and not {ACHIEVED!r}")
        return cleaned

    def codes(self) -> dict[str, str]:
        """Answer code -> label name: "A" for achieved, "B".. for the root causes in order."""
        return dict(zip(CODE_LETTERS, (ACHIEVED, *self.root_causes)))


class GoalSuccessReview(BaseModel):
    """A human's labels for some of an item's goals: ``{"goals": {goal_id: {achieved, root_cause?}}}``."""

    model_config = ConfigDict(extra="forbid")
    goals: dict[str, GoalLabel] = Field(min_length=1)

