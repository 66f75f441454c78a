"""The verdicts table: one calibrated result per item."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String
from sqlalchemy.sql import false
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, BigIntId, JsonDoc, Timestamp, utcnow


class Verdict(Base):
    """The combined verdict of an item, with calibration flags."""

    __tablename__ = "verdicts"

    item_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    # no foreign key to evaluations: the item's (cascading) covers it, and checking both cost every insert (0013)
    evaluation_id: Mapped[str] = mapped_column(String(36), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    unscored: Mapped[bool] = mapped_column(Boolean, default=False)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    position_inconsistent: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    # a human label replaced the judge's verdict (details["judge"] keeps the judge's own)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    bpde: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
