"""The nesting check: brackets outside strings only, exact at the limit, no recursion, and where it is passed."""

from __future__ import annotations

import json
import random

import pytest

from service.core.json_depth import MAX_JSON_DEPTH, UNLOCATED, deep_path, depth_problem, too_deep


def nest(depth: int, open_: str = "[", close: str = "]", leaf: str = "1") -> str:
    return open_ * depth + leaf + close * depth


def real_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(real_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(real_depth, value), default=0)
    return 0


@pytest.mark.parametrize("text, deep", [
    ("1", False), ("[]", False), ("{}", False),
    (nest(MAX_JSON_DEPTH), False),
    (nest(MAX_JSON_DEPTH + 1), True),
    ('{"a": ' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH, False),
    ('{"a": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1), True),
    ('["' + "[" * 500 + '"]', False),                                   # brackets in a string do not count
    ('["\\"' + "[" * 500 + '"]', False),                                # nor after an escaped quote
    ('["\\\\", ' + nest(MAX_JSON_DEPTH) + "]", True),                   # an escaped backslash ends no string
    ("[" * 10_000, True),                                               # never closed: the parser would recurse
    ("[[]," * 100 + "[]]", True),                                       # 100 opened, one closed each time
    ("[" + ",".join([nest(MAX_JSON_DEPTH - 1)] * 5000) + "]", False),  # wide, each exactly at the limit
    ("[" + ",".join([nest(MAX_JSON_DEPTH - 1)] * 5000 + [nest(MAX_JSON_DEPTH)]) + "]", True),
])
def test_too_deep(text, deep):
    assert too_deep(text) is deep
    assert too_deep(text.encode()) is deep
    assert (depth_problem(text) is not None) is deep


def test_too_deep_agrees_with_the_real_depth_of_random_documents():
    generator = random.Random(7)

    def value(depth: int):
        if depth == 0 or generator.random() < 0.25:
            return generator.choice([1, "a[b", "}{", '\\"[', None, "\\"])
        if generator.random() < 0.5:
            return [value(depth - 1) for _ in range(generator.randint(0, 3))]
        return {f"k{i}[": value(depth - 1) for i in range(generator.randint(0, 3))}

    for _ in range(2000):
        document = value(generator.randint(1, 12))
        text, limit = json.dumps(document), generator.randint(1, 8)
        assert too_deep(text, limit) == (real_depth(document) > limit), (text, limit)
        assert (deep_path(text, limit) is not None) == (real_depth(document) > limit), (text, limit)


@pytest.mark.parametrize("text, limit, parts", [
    ('{"items": [{"id": "a"}, {"prompt": [[[1]]]}]}', 4, ("items", 1, "prompt", 0)),
    ('{"a\\"b": {"c": [[[]]]}}', 3, ('a"b', "c", 0)),
    ("[" * 100, 64, (0,) * 64),
    ('[1, 2, {"x": [[]]}]', 2, (2, "x")),
    ('[1, 2, {"x": [[]]}]', 3, (2, "x", 0)),
    ('[1, 2, {"x": [[]]}]', 4, None),
])
def test_deep_path_names_the_first_container_past_the_limit(text, limit, parts):
    assert deep_path(text, limit) == parts


def test_chunked_passes_agree_with_one_pass():
    # escapes and strings cut by the 1 MiB chunks must not change the answer
    unit = '{"a\\\\": "b\\"[[[", "c": [[1], {"d": "]]]"}]}, '
    wide = "[" + unit * (3 * (1 << 20) // len(unit)) + nest(MAX_JSON_DEPTH - 1) + "]"
    assert not too_deep(wide)
    assert too_deep(wide[:-1] + ", " + nest(MAX_JSON_DEPTH) + "]")
    pairs = "[" + "[]," * (1 << 20) + nest(MAX_JSON_DEPTH - 1) + "]"  # many runs: pairs removed chunk by chunk
    assert not too_deep(pairs) and too_deep(pairs[:-1] + "," + nest(MAX_JSON_DEPTH) + "]")


def test_locating_has_a_bounded_cost():
    text = "[" + "[]," * 100 + nest(MAX_JSON_DEPTH) + "]"
    assert deep_path(text, budget=150) == UNLOCATED and deep_path(text) == (100,) + (0,) * (MAX_JSON_DEPTH - 1)
    parts, detail = depth_problem("[" + "[]," * 2_100_000 + nest(MAX_JSON_DEPTH) + "]")
    assert parts == () and detail.endswith("past its first 2,000,000 tokens")
