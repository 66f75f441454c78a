"""The combining fast paths give the per-call functions' values exactly (the same floats, keys and order)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from service.core import calibration
from service.core.protocol import CallResult
from service.core.protocols.pairwise.combining import call_details
from service.core.protocols.pairwise.scales import five_point
from service.core.statistics import entropy
from service.core.two_responses import THREE_POINT, label_for_a, preference_for_a, slot_label

SCALES = [THREE_POINT, five_point(3), five_point(2)]


def _random_probs(rng: random.Random, labels: tuple[str, ...]) -> dict[str, float] | None:
    kind = rng.random()
    if kind < 0.2:
        return None
    if kind < 0.25:
        return {}
    probs = {x: rng.random() for x in labels if rng.random() < 0.8}
    total = sum(probs.values()) or 1.0
    return {x: p / total for x, p in probs.items()}


@pytest.mark.parametrize("scale", SCALES, ids=["three", "five3", "five2"])
def test_call_details_match_the_per_call_functions(scale):
    rng = random.Random(1)
    for _ in range(3000):
        order = rng.choice(["ab", "ba", "ab.t2", "ba.t3"])
        label = rng.choice([None, *scale.labels])
        result = CallResult(order, rng.randint(0, 3), label, _random_probs(rng, scale.labels), "x")
        base, _, turn = order.partition(".t")
        expected = {"order": order, "sample": result.sample, "label": slot_label(label, scale),
                    "outcome": label_for_a(base, label, scale),
                    "preference": preference_for_a(base, label, result.label_probs, scale)}
        if scale is not THREE_POINT:
            expected["verdict"] = label
        call, got_order, got_turn = call_details(result, scale)
        assert (got_order, got_turn) == (base, int(turn) if turn else 1)
        assert list(call.items()) == list(expected.items())
        assert repr(call["preference"]) == repr(expected["preference"])


def _reference_majority(outcomes, tie_margin):
    present = [o for o in outcomes if o is not None]
    if not present:
        return None
    counts = Counter(present).most_common()
    if len(counts) == 1 or counts[0][1] > counts[1][1]:
        return counts[0][0]
    value = {"a": 1.0, "tie": 0.5, "b": 0.0}
    return calibration.decide(sum(value[o] for o in present) / len(present), tie_margin)


def test_majority_label_and_bpde_match_counting():
    rng = random.Random(2)
    for _ in range(5000):
        outcomes = [rng.choice(["a", "b", "tie", None]) for _ in range(rng.randint(0, 6))]
        margin = rng.choice([0.0, 0.05, 0.5])
        assert calibration.majority_label(outcomes, margin) == _reference_majority(outcomes, margin)
        counts = Counter(o for o in outcomes if o is not None)
        expected = entropy([counts.get(o, 0) for o in calibration.OUTCOMES])
        assert repr(calibration.bpde(outcomes)) == repr(expected)
        assert repr(calibration.bpde(tuple(outcomes))) == repr(expected)
