"""Goal segmentation: the JSON schema a judge answers in, and the strict parser of its answer."""

import json

import pytest

from service.core.protocols.goal_success.segments import parse_segments, segment_schema

TWO_GOALS = json.dumps({"goals": [{"description": "book a table", "start_turn": 0, "end_turn": 1},
                                  {"description": "learn the weather", "start_turn": 2, "end_turn": 3}]})


def _seg(*goals):
    return json.dumps({"goals": [dict(zip(("description", "start_turn", "end_turn"), g)) for g in goals]})


@pytest.mark.parametrize(
    "raw, n_turns, max_goals, spans, n_dropped, error",
    [
        (TWO_GOALS, 4, 8, [[0, 1], [2, 3]], 0, None),
        (_seg(("a", 0, 9)), 4, 8, [[0, 3]], 0, None),                     # end past the last turn: clamped
        (_seg(("a", 0, 0), ("b", 5, 6)), 4, 8, [[0, 0]], 1, None),        # start outside: dropped
        (_seg(("a", 2, 1), ("b", 1, 1)), 4, 8, [[1, 1]], 1, None),        # end before start: dropped
        (_seg(("a", -1, 2), ("b", 0, 3)), 4, 8, [[0, 3]], 1, None),       # negative start: dropped
        (_seg(("a", True, 1), ("b", "0", 1), ("c", 1.0, 2), ("d", 0, 1)), 4, 8, [[0, 1]], 3, None),  # not ints
        (_seg(("", 0, 1), ("  ", 0, 1), (7, 0, 1), ("ok", 0, 1)), 4, 8, [[0, 1]], 3, None),  # bad descriptions
        (_seg(("a", 0, 0), ("b", 1, 1), ("c", 2, 2)), 4, 2, [[0, 0], [1, 1]], 1, None),  # over max_goals
        (json.dumps({"goals": ["text", {"description": "a", "start_turn": 0, "end_turn": 0}]}), 4, 8, [[0, 0]], 1,
         None),
        ('{"goals": [{"description": "a", "start_turn": 0', 4, 8, [], 0, "not valid JSON"),  # truncated
        ("", 4, 8, [], 0, "not valid JSON"),
        ("[]", 4, 8, [], 0, 'no "goals" list'),
        ('{"goals": {"description": "a"}}', 4, 8, [], 0, 'no "goals" list'),
        ('{"goals": []}', 4, 8, [], 0, "no valid goal"),
        (_seg(("a", 4, 4)), 4, 8, [], 1, "no valid goal"),
    ],
)
def test_parse_segments(raw, n_turns, max_goals, spans, n_dropped, error):
    parsed = parse_segments(raw, n_turns, max_goals)
    assert [g["turns"] for g in parsed.goals] == spans
    assert [g["id"] for g in parsed.goals] == [f"g{i + 1}" for i in range(len(spans))]  # ids after dropping
    assert len(parsed.dropped) == n_dropped
    assert (parsed.error is None) if error is None else (error in parsed.error)


def test_segment_schema_bounds_turns_and_goals():
    schema = json.loads(segment_schema(4, 3))
    goals = schema["properties"]["goals"]
    assert (goals["minItems"], goals["maxItems"]) == (1, 3)
    assert goals["items"]["properties"]["start_turn"] == {"type": "integer", "minimum": 0, "maximum": 3}
    assert set(goals["items"]["required"]) == {"description", "start_turn", "end_turn"}
