"""summarize's per-item helpers give what the general expressions they replace give."""

from __future__ import annotations

import pytest

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
