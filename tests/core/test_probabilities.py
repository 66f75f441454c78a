"""Label probabilities from token logprobs, and parsing labels from text."""

import math

import pytest

from service.core.probabilities import label_probs_from_top_logprobs, parse_label

LABELS = ("1", "2", "tie")


@pytest.mark.parametrize(
    "top, expected",
    [
        ({"1": math.log(0.6), "2": math.log(0.3), "tie": math.log(0.1)}, {"1": 0.6, "2": 0.3, "tie": 0.1}),
        # renormalised over the labels; other tokens ignored
        ({"1": math.log(0.2), "2": math.log(0.2), "hello": math.log(0.6)}, {"1": 0.5, "2": 0.5, "tie": 0.0}),
        # the first token of a multi-token label counts for it; leading-space tokens too
        ({"t": math.log(0.5), " 1": math.log(0.5)}, {"1": 0.5, "2": 0.0, "tie": 0.5}),
        # SentencePiece / byte-level space markers
        ({"\u25811": math.log(0.25), "\u01202": math.log(0.75)}, {"1": 0.25, "2": 0.75, "tie": 0.0}),
        # masked tokens (-9999) carry no mass
        ({"1": 0.0, "2": -9999.0, "tie": -9999.0}, {"1": 1.0, "2": 0.0, "tie": 0.0}),
    ],
)
def test_label_probs(top, expected):
    probs = label_probs_from_top_logprobs(top, LABELS)
    assert probs is not None
    for label, value in expected.items():
        assert probs[label] == pytest.approx(value, abs=1e-9)
    assert sum(probs.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("top", [None, {}, {"hello": -0.1}, {"": -0.1}, {"1": -99999.0}])
def test_label_probs_none_when_no_label_token(top):
    assert label_probs_from_top_logprobs(top, LABELS) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1", "1"), (" 2 ", "2"), ("tie", "tie"), ("TIE.", "tie"), ("**1**", "1"),
        ("Response 1 is clearly worse, so 2", None),  # names two labels and no verdict marker
        ("Both are fine. Verdict: tie", "tie"),
        ("I think 2 is better.", "2"),
        ("", None), ("maybe", None), ("12", None),
    ],
)
def test_parse_label(text, expected):
    assert parse_label(text, LABELS) == expected
