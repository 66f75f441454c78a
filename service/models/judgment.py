"""The judgments table: every judge call, unique per (item, order, sample)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.sql import false
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, BigIntId, JsonDoc, Timestamp, utcnow


class Judgment(Base):
    """One judge call and what came back."""

    __tablename__ = "judgments"
    __table_args__ = (
        UniqueConstraint("item_id", "order", "sample"),
        # the judge-call cache's lookups (only keyed rows are indexed)
        Index("ix_judgments_cache_key", "cache_key", postgresql_where=text("cache_key IS NOT NULL"),
              sqlite_where=text("cache_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # no foreign key to evaluations: the item's (cascading) covers it, and checking both cost every insert (0013)
    evaluation_id: Mapped[str] = mapped_column(String(36), index=True)
    item_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("items.id", ondelete="CASCADE"))
    order: Mapped[str] = mapped_column(String(64))
    sample: Mapped[int] = mapped_column(Integer)
    prompt_hash: Mapped[str] = mapped_column(String(64))
    # the prompt template (protocol/version) that rendered the call
    template: Mapped[str] = mapped_column(String(64), default="", server_default="")
    raw_output: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(32))
    label_probs: Mapped[dict | None] = mapped_column(JsonDoc)
    # log-probabilities of the top tokens at the verdict position, as the judge returned them
    verdict_top_logprobs: Mapped[dict | None] = mapped_column(JsonDoc)
    # the judge-call cache entry this row is (its stored key, see service.judges.cache): set on a
    # successful call the engine made, NULL on failures and on answers taken from the cache
    cache_key: Mapped[str | None] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(256))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    cached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
