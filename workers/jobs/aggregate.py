"""Refresh one leaderboard snapshot (enqueued when an evaluation on a suite completes)."""

from __future__ import annotations

from service.db.engine import session_scope
from service.leaderboards.snapshot import refresh
from workers import runtime


def run(project_id: str, suite: str, protocol: str, judge: str) -> str:
    """Job entry point: recompute a project's suite × protocol × judge leaderboard."""
    with session_scope(runtime.settings().effective_database_url()) as session:
        return refresh(session, project_id, suite, protocol, judge)
