"""Request and response bodies of the suites API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
NAME_MAX = 128
BASELINE_MODEL_MAX = 256


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character (U+0000), which cannot be stored")
    return value


Text = Annotated[str, AfterValidator(_storable)]


class SuiteItemIn(BaseModel):
    """One suite item as uploaded: exactly one of ``prompt`` (single turn) or ``turns`` (multi-turn)."""

    model_config = ConfigDict(extra="forbid")
    id: Text = Field(min_length=1, max_length=256, description="Unique within the suite; evaluations refer to it.")
    prompt: Text | None = Field(default=None, min_length=1, description="A single-turn question.")
    turns: list[Text] | None = Field(default=None, min_length=1, description="The user turns of a multi-turn question.")
    category: Text | None = Field(default=None, max_length=128)
    reference: Text | None = Field(default=None, description="A reference answer.")
    reference_turns: list[Text] | None = Field(default=None, description="Reference answers, one per turn.")
    baseline_response: Text | None = Field(default=None, description="The baseline model's response.")
    baseline_responses: list[Text] | None = Field(
        default=None, description="The baseline model's answer to each turn of a multi-turn item (for comparisons).")
    human_reference: Text | None = Field(default=None, description="A human-written reference response.")

    @model_validator(mode="after")
    def _prompt_or_turns(self) -> SuiteItemIn:
        if (self.prompt is None) == (self.turns is None):
            field, message = ("turns", "give either prompt or turns, not both") if self.prompt is not None else (
                "prompt", "one of prompt or turns is required")
            raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                type=PydanticCustomError("prompt_or_turns", message), loc=(field,), input=getattr(self, field))])
        for field in ("reference_turns", "baseline_responses"):
            given = getattr(self, field)
            if given is not None and (self.turns is None or len(given) != len(self.turns)):
                message = f"give one entry per turn ({len(self.turns)})" if self.turns else "goes with turns"
                raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                    type=PydanticCustomError("per_turn", message), loc=(field,), input=given)])
        return self

    @property
    def first_prompt(self) -> str:
        """The prompt, or the first turn of a multi-turn item."""
        return self.prompt if self.prompt is not None else self.turns[0]


class SuiteCreate(BaseModel):
    """Body of POST /v1/suites (JSON); a JSONL upload gives the header fields as query parameters."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN, description="Suite name; a new upload under it is the next version.")
    description: Text | None = None
    baseline_model: Text | None = Field(default=None, min_length=1, max_length=BASELINE_MODEL_MAX,
                                        description="The model whose responses `baseline_response` holds.")
    items: list[SuiteItemIn] = Field(min_length=1)


class SuiteOut(BaseModel):
    """One version of a suite."""

    model_config = ConfigDict(from_attributes=True)
    name: str
    version: int
    description: str | None
    baseline_model: str | None
    n_items: int
    created_at: datetime


class SuiteList(BaseModel):
    """The latest version of every suite."""

    data: list[SuiteOut]


class SuiteDetail(SuiteOut):
    """A suite version with one page of its items, in upload order."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
