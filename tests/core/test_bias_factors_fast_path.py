"""The bias report's shortcuts give what the plain computation gives: markdown_structure's for text without
fences, headings or bold spans, and the rows counted from (favoured, judge, human) triples."""

from __future__ import annotations

import random

import pytest

from service.core import bias_factors

PIECES = ("word", " ", "\n", "\r\n", "- ", "* ", "+ ", "1. ", "12) ", "# ", "## x", "**b**", "__u__", "```", "~~~",
          "  ", "\t", "-", "*", "_", "1.", "x.", "\u2028", "#x", "** b**", "`", "~", "~~", "``", "\x0c", "\x85")


def test_markdown_structure_equals_the_line_scan_on_random_text():
    rng = random.Random(4)
    for _ in range(20000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 10)))
        assert bias_factors.markdown_structure(text) == bias_factors._structure_by_line(text), repr(text)


def plain_row(key, description, favoured, judge, humans):
    """``row`` as it was: a list of credits per share, each summed."""
    judged = [bias_factors.credit(o, s) for s, o in zip(favoured, judge) if s is not None and o is not None]
    both = [(s, o, h) for s, o, h in zip(favoured, judge, humans) if s is not None and o is not None and h is not None]
    if not any(h is not None for h in humans):
        return {"factor": key, "description": description, "judge": bias_factors.share(judged), "humans": None,
                "judge_same_items": None, "difference": None}
    judge_same = bias_factors.share([bias_factors.credit(o, s) for s, o, _ in both])
    human = bias_factors.share([bias_factors.credit(h, s) for s, _, h in both])
    return {"factor": key, "description": description, "judge": bias_factors.share(judged), "humans": human,
            "judge_same_items": judge_same, "difference": judge_same["rate"] - human["rate"] if both else None}


@pytest.mark.parametrize("seed", range(30))
def test_rows_from_counts_are_the_plain_rows(seed):
    rng = random.Random(seed)
    n = rng.choice([0, 1, 2, 5, 50, 3000])
    label = [None, "a", "b", "tie"]
    favoured = [rng.choice([None, "a", "b"]) for _ in range(n)]
    judge = [rng.choice(label) for _ in range(n)]
    humans = [rng.choice(label if seed % 3 else [None]) for _ in range(n)]
    assert bias_factors.row("k", "d", favoured, judge, humans) == plain_row("k", "d", favoured, judge, humans)
    pairs = [None if rng.random() < 0.1 else (rng.choice(PIECES) * rng.randint(1, 9), rng.choice(PIECES) * 3)
             for _ in range(n)]
    assert bias_factors.factor_rows(pairs, judge, humans) == [
        plain_row(f.key, f.description, [None if p is None else f.favoured(*p) for p in pairs], judge, humans)
        for f in bias_factors.FACTORS]
    assert bias_factors.side_rows(judge, humans) == {
        side: plain_row(side, f"prefers response {side.upper()}", [side] * n, judge, humans) for side in "ab"}
