"""Decisions, majority labels, BPDE, review selection and the reliability report."""

import math

import pytest

from service.core.calibration import (
    bpde, bpde_histogram, decide, majority_label, reliability_basics, reliability_report, select_for_review,
)
from service.core.protocol import ItemVerdict


@pytest.mark.parametrize(
    "preference, margin, expected",
    [(0.9, 0.05, "a"), (0.55, 0.05, "tie"), (0.5501, 0.05, "a"), (0.45, 0.05, "tie"), (0.1, 0.05, "b"),
     (0.5, 0.0, "tie"), (0.51, 0.0, "a")],
)
def test_decide(preference, margin, expected):
    assert decide(preference, margin) == expected


@pytest.mark.parametrize(
    "outcomes, expected",
    [([], None), ([None], None), (["a"], "a"), (["a", "a", "b"], "a"), (["a", "b"], "tie"),
     (["a", "tie"], "a"), (["b", "tie"], "b")],
)
def test_majority_label(outcomes, expected):
    assert majority_label(outcomes, 0.05) == expected


@pytest.mark.parametrize(
    "outcomes, expected",
    [(["a", "a"], 0.0), (["a", "b"], math.log(2)), (["a", "b", "tie"], math.log(3)), (["a", None], 0.0)],
)
def test_bpde(outcomes, expected):
    assert bpde(outcomes) == pytest.approx(expected)


def test_select_for_review_takes_the_most_uncertain():
    bpdes = [0.0, 1.0, 0.5, None, 1.0, 0.2]
    assert select_for_review(bpdes, 0.5) == [False, True, True, False, True, False]
    assert select_for_review(bpdes, 0.0) == [False] * 6
    # never flags items without disagreement, even when asked for all
    assert select_for_review(bpdes, 1.0) == [False, True, True, False, True, True]


def _verdict(outcome, calls, inconsistent=False, unscored=False):
    majority = {"ab": calls[0][1] if calls else None, "ba": calls[1][1] if len(calls) > 1 else None}
    return ItemVerdict(
        outcome=outcome, score=None if unscored else 0.5, unscored=unscored, position_inconsistent=inconsistent,
        bpde=0.0, details={"calls": [{"order": o, "label": lab} for o, lab in calls], "order_majority": majority},
    )


def test_reliability_report():
    verdicts = [
        _verdict("a", [("ab", "1"), ("ba", "2")]),  # consistent: A wins in both orders
        _verdict("tie", [("ab", "1"), ("ba", "1")], inconsistent=True),  # first slot wins twice
        _verdict(None, [], unscored=True),
    ]
    report = reliability_report(verdicts, ("ab", "ba"))
    assert report["position_consistency_rate"] == pytest.approx(0.5)
    assert report["first_position_win_rate"] == pytest.approx(3 / 4)
    assert report["tie_rate"] == pytest.approx(0.5)
    assert report["unscored_rate"] == pytest.approx(1 / 3)


def test_reliability_report_leaves_failed_items_out():
    """An item whose calls all failed was never answered: not unscored, not a tie, not a position check."""
    failed = ItemVerdict(outcome=None, score=None, unscored=False, failed=True, details={"errors": ["engine error"]})
    verdicts = [
        _verdict("a", [("ab", "1"), ("ba", "2")]),
        _verdict("tie", [("ab", "1"), ("ba", "1")], inconsistent=True),
        failed,
    ]
    report = reliability_report(verdicts, ("ab", "ba"))
    assert report["tie_rate"] == pytest.approx(0.5) and report["unscored_rate"] == 0.0
    assert report["position_consistency_rate"] == pytest.approx(0.5)
    assert reliability_basics([failed])["unscored_rate"] is None


@pytest.mark.parametrize("bpdes, counts", [
    ([], [0, 0, 0, 0, 0]),
    ([0.0, 0.0, math.log(2), math.log(3)], [2, 0, 0, 1, 1]),
    ([math.log(9)], [0, 0, 0, 0, 1]),  # more than three labels: the top bin grows to the largest value
])
def test_bpde_histogram(bpdes, counts):
    assert [b["count"] for b in bpde_histogram(bpdes)] == counts


def test_reliability_counts_the_judges_own_result_after_a_human_review():
    judged_unscored = ItemVerdict(outcome="a", score=1.0, unscored=False, reviewed=True, bpde=None,
                                  details={"judge": {"outcome": None, "score": None, "unscored": True}})
    plain = ItemVerdict(outcome="tie", score=0.5, unscored=False, bpde=math.log(2), details={})
    basics = reliability_basics([judged_unscored, plain])
    assert basics["unscored_rate"] == 0.5 and basics["n_reviewed"] == 1
    assert basics["mean_bpde"] == pytest.approx(math.log(2))


class _Pair:
    def __init__(self, first: str, second: str, human_label: str | None = None):
        self.first, self.second, self.human_label = first, second, human_label


def test_reliability_report_adds_the_bias_factors_from_items_and_their_compared_fields():
    """The judge's own outcome counts (a review does not), failed and unscored items do not; first position as above."""
    long_text, short_text = "a much longer response", "short"
    reviewed = _verdict("b", [("ab", "2"), ("ba", "1")])
    reviewed = ItemVerdict(outcome="a", score=1.0, unscored=False, reviewed=True, bpde=0.0,
                           details={**reviewed.details, "judge": {"outcome": "b", "unscored": False}})
    failed = ItemVerdict(outcome=None, score=None, unscored=False, failed=True, details={})
    verdicts = [_verdict("a", [("ab", "1"), ("ba", "2")]), _verdict("tie", [("ab", "1"), ("ba", "1")]),
                reviewed, failed, _verdict(None, [], unscored=True)]
    items = [_Pair(long_text, short_text, "b"), _Pair(short_text, long_text, "b"), _Pair(long_text, short_text),
             _Pair(long_text, short_text, "a"), _Pair(short_text, long_text, "b")]
    report = reliability_report(verdicts, ("ab", "ba"), items, ("first", "second"))
    rows = {r["factor"]: r for r in report["bias_factors"]["rows"]}
    assert rows["first_position"]["judge"]["rate"] == report["first_position_win_rate"]
    # judge: longer A won (1), tie (½), the reviewed item's own outcome b against longer A (0)
    assert rows["longer"]["judge"]["n"] == 3 and rows["longer"]["judge"]["rate"] == pytest.approx(1.5 / 3)
    # humans on the two labelled items the judge decided: b vs longer A (0), b = longer B (1)
    assert rows["longer"]["humans"]["rate"] == 0.5 and rows["longer"]["judge_same_items"]["rate"] == 0.75
    assert rows["longer"]["difference"] == pytest.approx(0.25)
    assert rows["more_markdown"]["judge"]["n"] == 0 and rows["more_markdown"]["judge"]["rate"] is None
    without_items = reliability_report(verdicts, ("ab", "ba"))["bias_factors"]
    assert without_items["rows"][1]["judge"]["n"] == 0 and without_items["sides"]["a"]["judge"]["n"] == 3
