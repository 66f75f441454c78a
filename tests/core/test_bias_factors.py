"""The factor-level bias maths: the >10% length rule, markdown counting, ties as ½, humans side by side."""

from __future__ import annotations

import pytest

from service.core import bias_factors
from service.core.bias_factors import (
    FACTORS,
    bias_report,
    credit,
    factor_rows,
    longer,
    markdown_structure,
    more_markdown,
    response_pair,
    row,
    share,
    wilson,
)
from service.core.statistics import wilson_interval


@pytest.mark.parametrize("a, b, expected", [
    ("x" * 100, "x" * 110, None),      # exactly 10% longer: not more than 10%
    ("x" * 100, "x" * 111, "b"),       # 11% longer
    ("x" * 111, "x" * 100, "a"),
    ("x" * 10, "x" * 11, None),        # 10%: the margin is relative to the shorter
    ("x" * 10, "x" * 12, "b"),
    ("", "", None),
    ("", "x", "b"),                    # anything is more than 10% longer than nothing
    ("same", "same", None),
])
def test_longer_needs_more_than_ten_percent(a, b, expected):
    assert longer(a, b) == expected


@pytest.mark.parametrize("text, count", [
    ("plain prose, no structure", 0),
    ("# Title\n## Sub\n####### seven hashes is not a heading\n#nospace", 2),
    ("- one\n* two\n+ three\n1. four\n2) five\n-not a list\n10.5 is a number", 5),
    ("**bold** and __also bold__ and ** not bold ** and *italic*", 2),
    ("## Steps\n1. **Mix** the flour\n2. Bake", 4),
    ("```\n# not a heading\n- not a list\n**not bold**\n```\n- a list item", 1),
    ("  - indented list item\n    # indented four: code, not a heading", 1),
])
def test_markdown_structure_counts_headings_list_items_and_bold(text, count):
    assert markdown_structure(text) == count


@pytest.mark.parametrize("a, b, expected", [
    ("# A\n- x", "plain", "a"),
    ("plain", "**b**", "b"),
    ("- x", "* y", None),
    ("no", "structure", None),
])
def test_more_markdown_names_the_side_with_more_structure(a, b, expected):
    assert more_markdown(a, b) == expected


@pytest.mark.parametrize("outcome, side, expected", [
    ("a", "a", 1.0), ("b", "a", 0.0), ("tie", "a", 0.5), ("b", "b", 1.0), ("tie", "b", 0.5),
])
def test_a_tie_counts_half(outcome, side, expected):
    assert credit(outcome, side) == expected


@pytest.mark.parametrize("successes, n", [(0, 1), (1, 1), (3, 10), (68, 100), (320, 400), (7, 7)])
def test_wilson_equals_the_statistics_module_on_whole_successes(successes, n):
    assert wilson(successes, n) == pytest.approx(wilson_interval(successes, n), abs=1e-9)


def test_wilson_with_halves_lies_between_its_neighbours_and_is_null_without_items():
    low, high = wilson(3.5, 10)
    assert wilson(3, 10)[0] < low < wilson(4, 10)[0] and wilson(3, 10)[1] < high < wilson(4, 10)[1]
    assert wilson(0, 0) is None


@pytest.mark.parametrize("credits, expected", [
    ([], {"n": 0, "n_ties": 0, "rate": None, "ci95": None}),
    ([1.0, 1.0, 0.0, 0.5], {"n": 4, "n_ties": 1, "rate": 0.625}),
    ([0.5, 0.5], {"n": 2, "n_ties": 2, "rate": 0.5}),
])
def test_share(credits, expected):
    got = share(credits)
    assert {k: got[k] for k in expected} == expected
    if credits:
        assert got["ci95"] == pytest.approx(wilson(sum(credits), len(credits)))


LONG, SHORT = "a long and detailed answer", "short"


@pytest.mark.parametrize("pairs, judge, humans, expected_judge, expected_humans, expected_difference", [
    # judge prefers the longer side on 3 of 4 items; humans on 1 of 4 with a tie: 0.75 vs 0.375
    ([(LONG, SHORT), (SHORT, LONG), (LONG, SHORT), (SHORT, LONG)], ["a", "b", "a", "a"], ["a", "a", "tie", "a"],
     (4, 0, 0.75), (4, 1, 0.375), 0.375),
    # equal lengths and a skipped (multi-turn) item do not count; an unscored judge item neither
    ([(LONG, SHORT), ("same", "same"), None, (SHORT, LONG)], ["tie", "a", "a", None], ["a", "a", "a", "b"],
     (1, 1, 0.5), (1, 0, 1.0), -0.5),
    # no human labels at all: humans null
    ([(LONG, SHORT), (SHORT, LONG)], ["a", "a"], [None, None], (2, 0, 0.5), None, None),
])
def test_length_row_judge_and_humans_side_by_side(pairs, judge, humans, expected_judge, expected_humans,
                                                  expected_difference):
    length = next(r for r in factor_rows(pairs, judge, humans) if r["factor"] == "longer")
    got = length["judge"]
    assert (got["n"], got["n_ties"], got["rate"]) == expected_judge
    if expected_humans is None:
        assert length["humans"] is None and length["judge_same_items"] is None and length["difference"] is None
    else:
        h = length["humans"]
        assert (h["n"], h["n_ties"], h["rate"]) == expected_humans
        assert length["difference"] == pytest.approx(expected_difference)
        assert h["ci95"] == pytest.approx(wilson(h["rate"] * h["n"], h["n"]))


def test_humans_and_difference_use_only_the_items_both_labelled():
    favoured = ["a", "a", "a", "a"]
    r = row("f", "d", favoured, judge=["a", "a", "b", "b"], humans=["a", None, "b", None])
    assert r["judge"]["rate"] == 0.5 and r["judge"]["n"] == 4
    assert r["judge_same_items"]["n"] == r["humans"]["n"] == 2
    assert r["judge_same_items"]["rate"] == 0.5 and r["humans"]["rate"] == 0.5 and r["difference"] == 0.0


def test_report_rows_sides_and_registry():
    pairs = [("# H\n- x\n" + LONG, SHORT), (SHORT, "**b** " + LONG)]
    report = bias_report(pairs, ["a", "tie"], ["b", "b"], first_credits=[1.0, 0.0, 0.5])
    assert [r["factor"] for r in report["rows"]] == ["first_position", "longer", "more_markdown"]
    position = report["rows"][0]
    assert position["judge"]["rate"] == 0.5 and position["judge"]["n"] == 3 and position["humans"] is None
    markdown = report["rows"][2]
    assert markdown["judge"]["rate"] == 0.75 and markdown["humans"]["rate"] == 0.5
    assert report["sides"]["a"]["judge"]["rate"] == 0.75 and report["sides"]["b"]["judge"]["rate"] == 0.25
    assert report["sides"]["a"]["humans"]["rate"] == 0.0 and report["sides"]["b"]["difference"] == -0.75
    assert [f.key for f in FACTORS] == ["longer", "more_markdown"]


def test_a_new_factor_is_one_function_and_a_registry_line(monkeypatch):
    exclaims = bias_factors.Factor("exclaims", "prefers the response with more '!'",
                                   lambda a, b: None if a.count("!") == b.count("!") else
                                   "a" if a.count("!") > b.count("!") else "b")
    monkeypatch.setattr(bias_factors, "FACTORS", (*FACTORS, exclaims))
    rows = factor_rows([("wow!", "ok"), ("ok", "ok")], ["a", "b"], [None, None])
    assert rows[-1]["factor"] == "exclaims" and rows[-1]["judge"]["n"] == 1 and rows[-1]["judge"]["rate"] == 1.0


class _Item:
    def __init__(self, **fields):
        self.__dict__.update(fields)


@pytest.mark.parametrize("item, compared, expected", [
    (_Item(x="one", y="two"), ("x", "y"), ("one", "two")),
    (_Item(x=None, y=None, turns=["q"]), ("x", "y"), None),   # multi-turn: answers per turn, skipped
    (_Item(x="one", y="two"), None, None),
])
def test_response_pair_by_declared_field_names(item, compared, expected):
    assert response_pair(item, compared) == expected


@pytest.mark.parametrize("model, baseline, sides", [
    ("judge-7b", "gpt-x", ["a"]),
    ("gpt-x", "judge-7b", ["b"]),
    ("gpt-x", None, []),
    ("judge-7b", "judge-7b", ["a", "b"]),
])
def test_self_preference_rows_flag_the_judges_own_side(model, baseline, sides):
    report = bias_report([None, None, None], ["a", "a", "b"], ["b", None, "b"], [])
    rows = bias_factors.self_preference_rows(report, "judge-7b", model, baseline)
    assert [r["factor"] for r in rows] == ["self_preference"] * len(sides)
    for got, side in zip(rows, sides):
        assert got["judge"] == report["sides"][side]["judge"] and got["humans"] == report["sides"][side]["humans"]
        assert f"its own response {side.upper()}" in got["description"]
    if sides[:1] == ["a"]:
        assert rows[0]["judge"]["rate"] == pytest.approx(2 / 3) and rows[0]["humans"]["rate"] == 0.0
