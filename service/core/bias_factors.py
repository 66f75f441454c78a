"""Factor-level bias of a two-response judge, beside the humans': does it prefer the longer response, more markdown?

A factor is a function of the two responses' texts (A, B) that names the side having more of it ("a" or
"b"), or None when they do not differ; a new factor is one such function plus a line in ``FACTORS``.
For each factor the report gives the share of the items where it differs in which the judge preferred
the side having more of it, with its n and a Wilson interval; when items carry human labels, the same
share for the humans on the same items, and the difference.

A tie counts ½ (as in the win rate and first_position_win_rate), for the judge and the humans alike:
0.5 means no bias whether the rater splits evenly or ties everything, and with both presentation
orders an item whose two orders disagree (a tie) counts half a preference, so the item-level share
estimates the per-call probability. ``n_ties`` says how many halves went in.

Pure: stdlib only.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

# lengths "differ" when the longer is more than this fraction longer than the shorter
LENGTH_MARGIN = 0.10

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\S")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")


def longer(a: str, b: str) -> str | None:
    """The side whose response is longer (characters) by more than 10% of the shorter; None otherwise."""
    short, long_ = sorted((len(a), len(b)))
    if long_ <= short * (1 + LENGTH_MARGIN) or long_ == 0:
        return None
    return "a" if len(a) > len(b) else "b"


def markdown_structure(text: str) -> int:
    """Headings, list items and bold spans in markdown text, outside fenced code blocks."""
    # a one-character test first: "*" in text is several times faster than "**" in text
    if ("#" in text or ("*" in text and "**" in text) or ("_" in text and "__" in text)
            or ("`" in text and "```" in text) or ("~" in text and "~~~" in text)):
        return _structure_by_line(text)
    lines = text.splitlines()  # no fence, heading or bold span: only list items count
    if len(lines) == 1:
        return 1 if _LIST_ITEM.match(lines[0]) else 0
    return sum(1 for line in lines if _LIST_ITEM.match(line))


def _structure_by_line(text: str) -> int:
    count, in_code = 0, False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        count += bool(_HEADING.match(line)) + bool(_LIST_ITEM.match(line)) + len(_BOLD.findall(line))
    return count


def more_markdown(a: str, b: str) -> str | None:
    """The side with more markdown structure (headings + list items + bold spans); None when equal."""
    na, nb = markdown_structure(a), markdown_structure(b)
    return None if na == nb else "a" if na > nb else "b"


@dataclass(frozen=True)
class Factor:
    """One row of the report: its key, what a share of 1 means, and the function naming the side with more of it."""

    key: str
    description: str
    favoured: Callable[[str, str], str | None]


FACTORS: tuple[Factor, ...] = (
    Factor("longer", "prefers the longer response (lengths differ by more than 10%)", longer),
    Factor("more_markdown", "prefers the response with more markdown structure (headings, list items, bold)",
           more_markdown),
)
POSITION_KEY = "first_position"
POSITION_DESCRIPTION = "prefers the response shown first (over readable calls)"


def credit(outcome: str, side: str) -> float:
    """1 when the outcome is ``side``, ½ for a tie, else 0."""
    return 1.0 if outcome == side else 0.5 if outcome == "tie" else 0.0


def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion whose successes may hold halves (ties); None when n is 0.

    The closed form of ``statistics.wilson_interval`` (equal for whole successes), which needs integers.
    """
    if n <= 0:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share(credits: Sequence[float]) -> dict[str, Any]:
    """n, ties, the mean credit and its Wilson interval (rate and interval null when n is 0)."""
    n = len(credits)
    return {"n": n, "n_ties": sum(c == 0.5 for c in credits), "rate": sum(credits) / n if n else None,
            "ci95": wilson(sum(credits), n)}


def _share_of(tally: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    """``share`` of the credits of (side, outcome, how many times) triples, from counts.

    The credits are wholes and halves, so their sum is exact in any order: wins + ties / 2 is ``share``'s sum.
    """
    n = wins = ties = 0
    for side, outcome, count in tally:
        n += count
        if outcome == side:
            wins += count
        elif outcome == "tie":
            ties += count
    successes = wins + 0.5 * ties
    return {"n": n, "n_ties": ties, "rate": successes / n if n else None, "ci95": wilson(successes, n)}


def row(key: str, description: str, favoured: Sequence[str | None], judge: Sequence[str | None],
        humans: Sequence[str | None]) -> dict[str, Any]:
    """One factor's row: the judge's share, and the humans' and the judge's on the items both labelled.

    ``favoured``, ``judge`` and ``humans`` are per item: the side with more of the factor (None: no
    difference), the judge's outcome and the human label (a/b/tie, None: none).
    """
    return _row(key, description, Counter(zip(favoured, judge, humans)), any(h is not None for h in humans))


def _row(key: str, description: str, counts: Counter[tuple[Any, Any, Any]], labelled: bool) -> dict[str, Any]:
    """``row`` from how many items have each (favoured, judge, human) triple; ``labelled``: any human label."""
    judged = [(s, o, c) for (s, o, _), c in counts.items() if s is not None and o is not None]
    if not labelled:
        return {"factor": key, "description": description, "judge": _share_of(judged), "humans": None,
                "judge_same_items": None, "difference": None}
    both = [(s, o, h, c) for (s, o, h), c in counts.items() if s is not None and o is not None and h is not None]
    judge_same = _share_of((s, o, c) for s, o, _, c in both)
    human = _share_of((s, h, c) for s, _, h, c in both)
    difference = judge_same["rate"] - human["rate"] if both else None
    return {"factor": key, "description": description, "judge": _share_of(judged), "humans": human,
            "judge_same_items": judge_same, "difference": difference}


def factor_rows(pairs: Sequence[tuple[str, str] | None], judge: Sequence[str | None],
                humans: Sequence[str | None]) -> list[dict[str, Any]]:
    """A row per registered factor, from per-item response pairs (None: skipped), judge outcomes and human labels."""
    labelled = any(h is not None for h in humans)
    return [_row(f.key, f.description, Counter(zip([None if p is None else f.favoured(*p) for p in pairs],
                                                   judge, humans)), labelled)
            for f in FACTORS]


def position_row(first_credits: Sequence[float]) -> dict[str, Any]:
    """The first-position row: per readable call 1 (first preferred), ½ (tie) or 0; humans see no positions."""
    return {"factor": POSITION_KEY, "description": POSITION_DESCRIPTION, "judge": share(first_credits),
            "humans": None, "judge_same_items": None, "difference": None}


def side_rows(judge: Sequence[str | None], humans: Sequence[str | None]) -> dict[str, dict[str, Any]]:
    """P(prefers A) and P(prefers B), judge and humans: what self-preference reads for the judge's own side."""
    counts, labelled = Counter(zip(judge, humans)), any(h is not None for h in humans)
    return {side: _row(side, f"prefers response {side.upper()}",
                       Counter({(side, o, h): c for (o, h), c in counts.items()}), labelled)
            for side in ("a", "b")}


def bias_report(pairs: Sequence[tuple[str, str] | None], judge: Sequence[str | None],
                humans: Sequence[str | None], first_credits: Sequence[float]) -> dict[str, Any]:
    """The report: rows (first position, then the registered factors) and the per-side preference rows."""
    return {"rows": [position_row(first_credits), *factor_rows(pairs, judge, humans)],
            "sides": side_rows(judge, humans)}


def response_pair(item: Any, compared: tuple[str, str] | None) -> tuple[str, str] | None:
    """The item's two response texts by the protocol's declared field names; None when either is not a text.

    A multi-turn item keeps its answers in per-turn lists, not in the compared fields, so it is skipped.
    """
    if compared is None:
        return None
    a, b = getattr(item, compared[0], None), getattr(item, compared[1], None)
    return (a, b) if isinstance(a, str) and isinstance(b, str) else None


def self_preference_rows(report: dict[str, Any], judge_model: str, model: str | None,
                         baseline_model: str | None) -> list[dict[str, Any]]:
    """A self_preference row per side whose model is the judge's own (A: the evaluated model, B: the baseline)."""
    owners = (("a", model, "evaluated"), ("b", baseline_model, "baseline"))
    return [{**report["sides"][side], "factor": "self_preference",
             "description": f"judge model {judge_model} is the {role} model: prefers its own response {side.upper()}"}
            for side, owner, role in owners if owner is not None and owner == judge_model and side in report["sides"]]
