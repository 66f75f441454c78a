"""The reliability report computes each verdict's judged flag, outcome and readable calls once: the same report
as the plain computation (kept here) on random verdicts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest

from service.core import bias_factors
from service.core.calibration import bpde_histogram, reliability_basics, reliability_report
from service.core.protocol import ItemVerdict


def _unscored(v):
    return v.details.get("judge", {}).get("unscored", False) if v.reviewed else v.unscored


def _outcome(v):
    return v.details.get("judge", {}).get("outcome") if v.reviewed else v.outcome


def plain_basics(verdicts):
    answered = [v for v in verdicts if not v.failed]
    judged = [v for v in answered if not _unscored(v)]
    bpdes = [v.bpde for v in judged if v.bpde is not None]
    calls = [c for v in verdicts for c in v.details.get("calls", []) if c.get("label") is not None]
    return {"unscored_rate": (len(answered) - len(judged)) / len(answered) if answered else None,
            "mean_bpde": sum(bpdes) / len(bpdes) if bpdes else None, "bpde_histogram": bpde_histogram(bpdes),
            "n_calls_scored": len(calls), "n_reviewed": sum(v.reviewed for v in verdicts)}


def plain_report(verdicts, orders, items=(), compared=None):
    judged = [v for v in verdicts if not v.failed and not _unscored(v)]
    both = [v for v in judged if all(v.details.get("order_majority", {}).get(o) for o in orders)]
    calls = [c for v in verdicts for c in v.details.get("calls", []) if c.get("label") is not None]
    first_wins = [1.0 if c["label"] == "1" else 0.5 if c["label"] == "tie" else 0.0 for c in calls]
    outcomes = [_outcome(v) for v in judged]
    report: dict[str, Any] = {
        "position_consistency_rate": (sum(not v.position_inconsistent for v in both) / len(both)
                                      if len(orders) == 2 and both else None),
        "first_position_win_rate": sum(first_wins) / len(first_wins) if first_wins else None,
        "tie_rate": sum(o == "tie" for o in outcomes) / len(outcomes) if outcomes else None,
    }
    report.update(plain_basics(verdicts))
    items = list(items) or [None] * len(verdicts)
    judge = [None if v.failed or _unscored(v) else _outcome(v) for v in verdicts]
    humans = [getattr(item, "human_label", None) for item in items]
    pairs = [None if item is None else bias_factors.response_pair(item, compared) for item in items]
    report["bias_factors"] = bias_factors.bias_report(pairs, judge, humans, first_wins)
    return report


@dataclass
class Item:
    x: Any
    y: Any
    human_label: str | None


def random_verdict(rng: random.Random) -> ItemVerdict:
    pick = rng.choice
    calls = [{"label": pick(["1", "2", "tie", None]), "outcome": pick("ab")} for _ in range(rng.randint(0, 3))]
    details: dict[str, Any] = {"calls": calls} if rng.random() < 0.9 else {}
    if rng.random() < 0.9:
        details["order_majority"] = {o: pick(["a", "b", "tie", None]) for o in ("ab", "ba") if rng.random() < 0.9}
    reviewed = rng.random() < 0.2
    if reviewed and rng.random() < 0.9:
        details["judge"] = {"outcome": pick(["a", "b", "tie", None]), "unscored": rng.random() < 0.2}
    return ItemVerdict(outcome=pick(["a", "b", "tie", None]), score=rng.random(), unscored=rng.random() < 0.2,
                       position_inconsistent=rng.random() < 0.3, bpde=pick([None, 0.0, rng.random()]),
                       details=details, reviewed=reviewed, failed=rng.random() < 0.1)


@pytest.mark.parametrize("seed", range(25))
def test_the_report_is_the_plain_one(seed):
    rng = random.Random(seed)
    verdicts = [random_verdict(rng) for _ in range(rng.choice([0, 1, 3, 40, 500]))]
    items = [Item(rng.choice(["", "- a", "## b\n- c", "long " * 9, 3]), rng.choice(["x", "**y** z", None]),
                  rng.choice(["a", "b", "tie", None])) for _ in verdicts]
    orders = rng.choice([("ab", "ba"), ("ab",), ("ab", "ba", "ab.t2")])
    for args in ((), (items, ("x", "y")), (items, None)):
        assert reliability_report(verdicts, orders, *args) == plain_report(verdicts, orders, *args)
    assert reliability_basics(verdicts) == plain_basics(verdicts)
