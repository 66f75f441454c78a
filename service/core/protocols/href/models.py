"""The href protocol's data models: what an item, its options and a review label accept."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.core.self_reference import DEFAULT_ANSWER_TOKENS, MODE_DESCRIPTION, TOKENS_DESCRIPTION, SelfReferenceMode
from service.core.two_responses import TwoResponseOptions

Method = Literal["judge_with_reference", "judge", "embedding"]


# categories not listed use ``default_method`` (judge_with_reference unless the user changes it)
DEFAULT_METHODS: dict[str, str] = {
    "brainstorm": "judge",
    "summarize": "judge",
    "open qa": "embedding",
    "fact checking": "embedding",
}


_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_category(category: str) -> str:
    """Case-insensitive key; spaces, underscores and hyphens count alike ("open_qa" == "Open QA")."""
    return _SEPARATORS.sub(" ", category).strip().lower()


class HrefItem(BaseModel):
    """A candidate response (A) against a baseline response (B), with a human reference."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    prompt: str
    category: str = Field(min_length=1, max_length=256)
    response: str
    baseline_response: str
    human_reference: str
    human_label: Literal["a", "b", "tie"] | None = None


class HrefOptions(TwoResponseOptions):
    """Pairwise calibration options plus the category → method table."""

    methods: dict[str, Method] = Field(
        default_factory=dict, description="Per-category methods, merged over the defaults.")
    default_method: Method | None = Field(
        default="judge_with_reference", description="Method of unlisted categories; null rejects them.")
    self_reference: SelfReferenceMode = Field(
        default=False, description=MODE_DESCRIPTION + " Every href item carries a human reference, so only "
                                                      "'force' adds the judge's own answer (on judged categories).")
    self_answer_tokens: int = Field(default=DEFAULT_ANSWER_TOKENS, ge=16, le=4096, description=TOKENS_DESCRIPTION)

    @field_validator("methods")
    @classmethod
    def _distinct_categories(cls, methods: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for category, method in methods.items():
            key = normalise_category(category)
            if not key:
                raise ValueError("a category name must not be empty")
            if seen.get(key, method) != method:
                raise ValueError(f"category '{category}' is given two different methods")
            seen[key] = method
        return methods

    def method_table(self) -> dict[str, str]:
        """The defaults with the user's methods merged over them, keyed by normalised category."""
        table = dict(DEFAULT_METHODS)
        table.update({normalise_category(c): m for c, m in self.methods.items()})
        return table


class HrefReview(BaseModel):
    """A human's verdict on an href item: candidate (a), baseline (b) or tie."""

    model_config = ConfigDict(extra="forbid")
    label: Literal["a", "b", "tie"]


class HrefSuiteItem(BaseModel):
    """A submission's item on a stored suite: the suite gives the rest (prompt, reference, baseline)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256, description="The suite item's id.")
    response: str = Field(description="The candidate model's response to the suite item.")
    human_label: Literal["a", "b", "tie"] | None = Field(default=None, description="A human's verdict (a: the response, b: the baseline, tie), for agreement statistics.")
