"""summarize's per-item helpers give what the general expressions they replace give."""

from __future__ import annotations

import random

import pytest

from service.core.agreement import judge_value, reviewed_verdict
from service.core.protocol import ItemVerdict
from service.core.protocols.pairwise import protocol
from service.core.protocols.pairwise.models import PairwiseItem

ITEMS = [
    {"id": "s1", "prompt": "q", "response_a": "four", "response_b": "4"},
    {"id": "s2", "prompt": "q", "response_a": "", "response_b": "a longer one"},
    {"id": "m1", "turns": ["What is 2+2?", "Now multiply it by 3."], "responses_a": ["4.", "12."],
     "responses_b": ["four", "twelve, as 4 x 3 = 12"]},
]


@pytest.mark.parametrize("fields", ITEMS)
def test_length_difference_is_that_of_the_full_texts(fields):
    item = PairwiseItem.model_validate(fields)
    assert protocol._length_difference(item) == len(item.full_text("a")) - len(item.full_text("b"))


def test_judge_label_is_judge_values():
    rng = random.Random(3)
    for _ in range(500):
        verdict = ItemVerdict(outcome=rng.choice(["a", "b", "tie", None]), score=0.5, unscored=rng.random() < 0.3)
        if rng.random() < 0.5:
            verdict = reviewed_verdict(verdict, rng.choice(["a", "b"]), 1.0, {"label": "a"})
            if rng.random() < 0.2:
                verdict.details.pop("judge")
        expected = None if judge_value(verdict, "unscored") else judge_value(verdict, "outcome")
        assert protocol._judge_label(verdict) == expected
