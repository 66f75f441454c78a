"""Goal segmentation for goal_success: the JSON schema a judge answers in, and its strict parser."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

MAX_DESCRIPTION_CHARS = 1000


class Segmentation(NamedTuple):
    """Parsed segmentation output: valid goals (ids g1, g2, ...), what was dropped, or why it failed."""

    goals: list[dict[str, Any]]
    dropped: list[str]
    error: str | None = None


def parse_segments(raw_text: str, n_turns: int, max_goals: int) -> Segmentation:
    """Strictly parse a segmentation JSON answer; spans end-clamped to the conversation, bad goals dropped."""
    try:
        data = json.loads(raw_text)
    except (TypeError, ValueError):
        return Segmentation([], [], "segmentation output is not valid JSON")
    if not isinstance(data, dict) or not isinstance(data.get("goals"), list):
        return Segmentation([], [], 'segmentation output has no "goals" list')
    goals, dropped = [], []
    for index, raw in enumerate(data["goals"]):
        goal, problem = _segment(raw, n_turns)
        if problem is None and len(goals) >= max_goals:
            problem = f"more than max_goals={max_goals}"
        if problem is not None:
            dropped.append(f"goal {index}: {problem}")
            continue
        goals.append({"id": f"g{len(goals) + 1}", **goal})
    if not goals:
        return Segmentation([], dropped, "segmentation gave no valid goal")
    return Segmentation(goals, dropped)


def _segment(raw: Any, n_turns: int) -> tuple[dict[str, Any], str | None]:
    if not isinstance(raw, dict):
        return {}, "not an object"
    description, start, end = raw.get("description"), raw.get("start_turn"), raw.get("end_turn")
    if not isinstance(description, str) or not description.strip():
        return {}, "no description"
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
        return {}, "turns are not integers"
    if not 0 <= start < n_turns or end < start:
        return {}, f"span [{start}, {end}] outside the conversation's turns 0..{n_turns - 1}"
    span = [start, min(end, n_turns - 1)]
    return {"description": description.strip()[:MAX_DESCRIPTION_CHARS], "success_criteria": None, "turns": span}, None


def segment_schema(n_turns: int, max_goals: int) -> str:
    """The JSON Schema (text) that constrains a segmentation answer."""
    turn = {"type": "integer", "minimum": 0, "maximum": n_turns - 1}
    goal = {"type": "object", "additionalProperties": False, "required": ["description", "start_turn", "end_turn"],
            "properties": {"description": {"type": "string", "minLength": 1, "maxLength": 300},
                           "start_turn": turn, "end_turn": turn}}
    schema = {"type": "object", "additionalProperties": False, "required": ["goals"],
              "properties": {"goals": {"type": "array", "minItems": 1, "maxItems": max_goals, "items": goal}}}
    return json.dumps(schema, sort_keys=True)


def schema_turns(schema: str | None) -> int:
    """The number of turns a segmentation schema allows (its turn maximum + 1)."""
    goal = json.loads(schema or "{}").get("properties", {}).get("goals", {}).get("items", {})
    return int(goal.get("properties", {}).get("start_turn", {}).get("maximum", 10**6)) + 1
