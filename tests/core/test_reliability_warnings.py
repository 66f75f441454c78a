"""The reliability warnings: which report values call for which warning, at and beyond each threshold."""

from __future__ import annotations

import pytest

from service.core.reliability_warnings import ReliabilityWarning, reliability_warnings

CASES = {
    # name: (reliability report, summary, expected warning codes in order)
    "a sound report": ({"position_consistency_rate": 0.9, "first_position_win_rate": 0.5, "unscored_rate": 0.0},
                       {"n_items": 100, "n_failed": 0}, []),
    "nothing measured": ({}, {}, []),
    "no report at all": (None, None, []),
    "consistency just below 0.6": ({"position_consistency_rate": 0.59}, {}, ["low_position_consistency"]),
    "consistency at 0.6 is fine": ({"position_consistency_rate": 0.6}, {}, []),
    "first position above 0.8": ({"first_position_win_rate": 0.81}, {}, ["position_bias"]),
    "first position at 0.8 is fine": ({"first_position_win_rate": 0.8}, {}, []),
    "second position above 0.8": ({"first_position_win_rate": 0.1}, {}, ["position_bias"]),
    "second position at 0.8 is fine": ({"first_position_win_rate": 0.2}, {}, []),
    "unscored above 10%": ({"unscored_rate": 0.11}, {}, ["many_unscored"]),
    "unscored at 10% is fine": ({"unscored_rate": 0.1}, {}, []),
    "failed above 5%": ({}, {"n_items": 100, "n_failed": 6}, ["many_failed"]),
    "failed at 5% is fine": ({}, {"n_items": 100, "n_failed": 5}, []),
    "no items: no failure share": ({}, {"n_items": 0, "n_failed": 0}, []),
    "not numbers are ignored": ({"position_consistency_rate": None, "first_position_win_rate": "high"},
                                {"n_items": "10", "n_failed": 9}, []),
    "every rule, in the listed order": (
        {"position_consistency_rate": 0.12, "first_position_win_rate": 0.97, "unscored_rate": 0.5},
        {"n_items": 10, "n_failed": 2},
        ["low_position_consistency", "position_bias", "many_unscored", "many_failed"]),
}


@pytest.mark.parametrize("reliability, summary, codes", CASES.values(), ids=list(CASES))
def test_reliability_warnings(reliability, summary, codes):
    warnings = reliability_warnings(reliability, summary)
    assert [w.code for w in warnings] == codes
    for warning in warnings:
        assert isinstance(warning, ReliabilityWarning) and warning.measured and warning.meaning


MEASURED = {
    # what the warning says it measured
    "consistency": ({"position_consistency_rate": 0.12}, {}, "position consistency 0.12 (below 0.6)"),
    "first": ({"first_position_win_rate": 0.97}, {}, "the judge preferred the first-shown response in 97% of its calls"),
    "second": ({"first_position_win_rate": 0.1}, {}, "the judge preferred the second-shown response in 90% of its calls"),
    "unscored": ({"unscored_rate": 0.25}, {}, "25% of the judge's outputs could not be read"),
    "failed": ({}, {"n_items": 10, "n_failed": 2}, "2 of 10 items failed (every judge call errored)"),
}


@pytest.mark.parametrize("reliability, summary, measured", MEASURED.values(), ids=list(MEASURED))
def test_each_warning_says_what_was_measured(reliability, summary, measured):
    (warning,) = reliability_warnings(reliability, summary)
    assert warning.measured == measured
    assert warning.as_dict() == {"code": warning.code, "measured": measured, "meaning": warning.meaning}
    assert warning.text() == f"{measured}: {warning.meaning}"
