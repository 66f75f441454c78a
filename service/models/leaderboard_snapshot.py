"""The leaderboard_snapshots table: precomputed leaderboard rows, read by every poll."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, JsonDoc, Timestamp, utcnow


class LeaderboardSnapshot(Base):
    """Rows of one suite × protocol × judge leaderboard, refreshed by the aggregation job."""

    __tablename__ = "leaderboard_snapshots"

    project_id: Mapped[str] = mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    suite: Mapped[str] = mapped_column(String(128), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(32), primary_key=True)
    judge: Mapped[str] = mapped_column(String(64), primary_key=True)
    etag: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict] = mapped_column(JsonDoc)
    computed_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
