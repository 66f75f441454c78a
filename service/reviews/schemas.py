"""Request and response bodies of the review API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.evaluations.schemas import JudgmentOut


class ReviewOut(BaseModel):
    """An item in the review queue: the item, the judge's verdict and calls, and the human label if given."""

    id: str
    evaluation_id: str
    item_id: str
    status: Literal["open", "done"]
    bpde: float | None
    item: dict[str, Any]
    verdict: dict[str, Any] = Field(description="The judge's verdict (outcome, score, calibration flags).")
    judgments: list[JudgmentOut]
    label: dict[str, Any] | None = None
    reviewer: str | None = None
    note: str | None = None
    created_at: datetime
    reviewed_at: datetime | None = None
    links: dict[str, str]


class ReviewPage(BaseModel):
    """A page of reviews, highest BPDE first."""

    data: list[ReviewOut]
    next_cursor: str | None = None


class ReviewLabel(BaseModel):
    """Body of POST /v1/reviews/{id}: the protocol's label fields, plus who gives it.

    Which fields a protocol takes is its review model (GET /v1/protocols: ``schemas.review`` and
    ``label_form``), e.g. ``{"label": "a"|"b"|"tie"}`` or ``{"score": n}``.
    """

    model_config = ConfigDict(extra="allow")
    reviewer: str = Field(min_length=1, max_length=256, description="Who gives the label.")
    note: str | None = Field(default=None, max_length=10_000)
