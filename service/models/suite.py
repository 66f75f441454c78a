"""The suites and suite_items tables: named, versioned benchmark items stored once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, BigIntId, JsonDoc, Timestamp, utcnow


class Suite(Base):
    """One version of a named suite; a new upload under the same name is the next version."""

    __tablename__ = "suites"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    baseline_model: Mapped[str | None] = mapped_column(String(256))
    n_items: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class SuiteItem(Base):
    """One item of a suite version: prompt, category, references, baseline and human responses."""

    __tablename__ = "suite_items"
    __table_args__ = (UniqueConstraint("suite_id", "item_key"), UniqueConstraint("suite_id", "position"))

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    suite_id: Mapped[str] = mapped_column(String(36), ForeignKey("suites.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item_key: Mapped[str] = mapped_column(String(256))
    category: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict] = mapped_column(JsonDoc)
