"""The reviews table: items flagged for a human label (entropy-ranked review queue)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import BigIntId, Base, JsonDoc, Timestamp, utcnow


class Review(Base):
    """One item awaiting (or given) a human label; the label replaces the judge's verdict."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_status_bpde", "status", "bpde"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    evaluation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    bpde: Mapped[float | None] = mapped_column(Float)
    label: Mapped[dict | None] = mapped_column(JsonDoc)
    reviewer: Mapped[str | None] = mapped_column(String(256))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(Timestamp)
