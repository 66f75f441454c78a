"""markdown_structure's shortcut for text without fences, headings or bold spans counts what the line scan counts."""

from __future__ import annotations

import random

from service.core import bias_factors

PIECES = ("word", " ", "\n", "\r\n", "- ", "* ", "+ ", "1. ", "12) ", "# ", "## x", "**b**", "__u__", "```", "~~~",
          "  ", "\t", "-", "*", "_", "1.", "x.", "\u2028", "#x", "** b**")


def test_markdown_structure_equals_the_line_scan_on_random_text():
    rng = random.Random(4)
    for _ in range(20000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 10)))
        assert bias_factors.markdown_structure(text) == bias_factors._structure_by_line(text), repr(text)
