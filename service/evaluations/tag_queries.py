"""Tag filters as SQL conditions on evaluations (Postgres JSONB and SQLite JSON alike)."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import and_, true

from service.core.tags import TagFilter, parse_filters
from service.errors import InvalidSubmission
from service.evaluations.problems import parameter_error
from service.models import Evaluation


def tag_condition(filters: Sequence[TagFilter]) -> Any:
    """Evaluations whose tags satisfy every filter (``key=value`` exact, ``key`` present)."""
    conditions = []
    for tag_filter in filters:
        value = Evaluation.tags[tag_filter.key].as_string()
        conditions.append(value.is_not(None) if tag_filter.value is None else value == tag_filter.value)
    return and_(true(), *conditions)


def tag_filters(texts: list[str] | None, parameter: str = "tag") -> list[TagFilter]:
    """Query parameters ``tag=key=value`` as filters; a 422 naming the parameter and the bad filter."""
    try:
        return parse_filters(texts)
    except ValueError as exc:
        raise InvalidSubmission([parameter_error(parameter, str(exc))], title="Invalid request") from None
