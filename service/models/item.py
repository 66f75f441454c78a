"""The items table: an evaluation's inputs, stored as submitted."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, BigIntId, JsonDoc


class Item(Base):
    """One submitted item; ``position`` is its 0-based index in the submission."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "position"),
        UniqueConstraint("evaluation_id", "item_key"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("evaluations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    item_key: Mapped[str] = mapped_column(String(256))
    payload: Mapped[dict] = mapped_column(JsonDoc)
