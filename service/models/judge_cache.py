"""The judge_cache table: answers of reproducible judge calls, keyed by judge, prompt and sampling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JsonDoc, Timestamp, utcnow


class JudgeCacheEntry(Base):
    """One cached judge answer (successful calls only)."""

    __tablename__ = "judge_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # whose entry it is (its key is bound to the project); NULL: any project's (a cache_scope: global judge's)
    project_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"),
                                                   index=True)
    fingerprint: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    verdict_top_logprobs: Mapped[dict | None] = mapped_column(JsonDoc)
    rationale: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
