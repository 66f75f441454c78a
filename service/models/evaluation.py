"""The evaluations table: one job with its status, progress and results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JsonDoc, Timestamp, utcnow


class Evaluation(Base):
    """One evaluation job."""

    __tablename__ = "evaluations"
    # a project's evaluations newest first (GET /v1/evaluations): scanned backwards for created_at DESC, id DESC
    __table_args__ = (Index("ix_evaluations_project_id_created_at_id", "project_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"))
    protocol: Mapped[str] = mapped_column(String(32))
    judge: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(256))
    suite: Mapped[str | None] = mapped_column(String(256), index=True)
    suite_version: Mapped[int | None] = mapped_column(Integer)
    baseline_model: Mapped[str | None] = mapped_column(String(256))
    options: Mapped[dict] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    chunks_total: Mapped[int] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict | None] = mapped_column(JsonDoc)
    reliability: Mapped[dict | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    webhook_url: Mapped[str | None] = mapped_column(Text)  # signed with the project's default webhook secret
    # string tags set at submission (branch, commit, pr, release…): GET /v1/evaluations, leaderboards and the
    # gate's baseline query select by them (service.evaluations.tag_queries)
    tags: Mapped[dict] = mapped_column(JsonDoc, default=dict, server_default="{}", nullable=False)
    # False: judged and compared like any other, but never a leaderboard row (a CI run of a branch)
    leaderboard: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), nullable=False)
