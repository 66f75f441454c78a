"""The gate's baseline found by query: the newest completed evaluation like the candidate that matches.

``{"latest": {"model": "my-model", "tags": {"branch": "main"}}}`` resolves, on the server, to the newest
completed evaluation of the candidate's project, suite, suite version, judge and protocol whose model and
tags match (a tag value ``*`` means any value), never the candidate itself. CI then needs no stored id.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.tags import ANY_VALUE, TagFilter, Tags
from service.errors import FieldError, InvalidSubmission
from service.evaluations.tag_queries import tag_condition
from service.models import Evaluation


class LatestQuery(BaseModel):
    """What the baseline must match besides the candidate's suite, suite version, judge and protocol."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, min_length=1, max_length=256, description="The baseline's model name.")
    tags: Tags = Field(default_factory=dict, description="Tags it must carry; the value `*` matches any value.")
    leaderboard: bool | None = Field(default=None, description="Only evaluations on (true) or off (false) leaderboards.")

    def describe(self) -> str:
        """The query as text, for messages: ``model=m, tag branch=main``."""
        parts = [f"model={self.model}"] if self.model else []
        parts += [f"tag {key}={value}" for key, value in self.tags.items()]
        if self.leaderboard is not None:
            parts.append(f"leaderboard={str(self.leaderboard).lower()}")
        return ", ".join(parts) or "any evaluation"


class BaselineQuery(BaseModel):
    """A baseline named by a query instead of an id."""

    model_config = ConfigDict(extra="forbid")
    latest: LatestQuery = Field(description="The newest completed evaluation like the candidate that matches.")


def resolve_latest(session: Session, candidate: Evaluation, query: LatestQuery) -> Evaluation:
    """The newest completed evaluation like ``candidate`` matching ``query``; a 422 quoting the query when none does."""
    filters = [TagFilter(key, None if value == ANY_VALUE else value) for key, value in query.tags.items()]
    statement = select(Evaluation).where(
        Evaluation.project_id == candidate.project_id, Evaluation.status == "completed",
        Evaluation.id != candidate.id, Evaluation.protocol == candidate.protocol, Evaluation.judge == candidate.judge,
        _same(Evaluation.suite, candidate.suite), _same(Evaluation.suite_version, candidate.suite_version),
        tag_condition(filters),
    )
    if query.model is not None:
        statement = statement.where(Evaluation.model == query.model)
    if query.leaderboard is not None:
        statement = statement.where(Evaluation.leaderboard.is_(query.leaderboard))
    statement = statement.order_by(Evaluation.completed_at.desc().nulls_last(), Evaluation.created_at.desc()).limit(1)
    found = session.scalars(statement).first()
    if found is None:
        suite = f"suite {candidate.suite!r} v{candidate.suite_version}" if candidate.suite else "no suite"
        raise InvalidSubmission([FieldError("/baseline/latest", (
            f"no completed evaluation matches {query.describe()} on the candidate's {suite}, judge "
            f"{candidate.judge!r} and protocol {candidate.protocol!r}"))], title="No baseline matches")
    return found


def _same(column, value):
    """``column = value``, with NULL matching NULL (an evaluation without a suite)."""
    return column.is_(None) if value is None else column == value
