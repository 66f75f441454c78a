"""Agreement counted from (human, judge) pairs gives exactly the values of the label lists written out; judge_label is
the judge's own value as judge_value gives it."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from service.core.agreement import agreement, judge_label, judge_value, reviewed_verdict
from service.core.protocol import ItemVerdict
from service.core.statistics import cohen_kappa, kappa_and_pi, scott_pi


def plain_agreement(human, judged):
    pairs = [(h, j) for h, j in zip(human, judged) if h is not None and j is not None]
    if not pairs:
        return None
    humans, judges = [h for h, _ in pairs], [j for _, j in pairs]
    return {"n": len(pairs), "accuracy": sum(h == j for h, j in pairs) / len(pairs),
            "cohen_kappa": cohen_kappa(humans, judges), "scott_pi": scott_pi(humans, judges)}


@pytest.mark.parametrize("seed", range(200))
def test_counted_agreement_is_the_plain_one_bit_for_bit(seed):
    rng = random.Random(seed)
    labels = rng.choice([["a", "b"], ["a", "b", "tie"], ["x", "y", "z", "w"], ["a"]])
    n = rng.choice([0, 1, 2, 7, 100, 5000])
    weights = [rng.random() for _ in labels]
    human = [None if rng.random() < 0.2 else rng.choices(labels, weights)[0] for _ in range(n)]
    judged = [None if rng.random() < 0.1 else rng.choices(labels, weights[::-1])[0] for _ in range(n)]
    assert agreement(human, judged) == plain_agreement(human, judged)
    pairs = [(h, j) for h, j in zip(human, judged) if h is not None and j is not None]
    if pairs:
        a, b = [h for h, _ in pairs], [j for _, j in pairs]
        assert kappa_and_pi(Counter(pairs)) == (cohen_kappa(a, b), scott_pi(a, b))


@pytest.mark.parametrize("key", ["outcome", "score"])
def test_judge_label_is_judge_values(key):
    rng = random.Random(3)
    for _ in range(500):
        verdict = ItemVerdict(outcome=rng.choice(["a", "b", "tie", None]), score=rng.choice([0.0, 0.5, None]),
                              unscored=rng.random() < 0.3)
        if rng.random() < 0.5:
            verdict = reviewed_verdict(verdict, rng.choice(["a", "b"]), 1.0, {"label": "a"})
            if rng.random() < 0.2:
                verdict.details.pop("judge")
        expected = None if judge_value(verdict, "unscored") else judge_value(verdict, key)
        assert judge_label(verdict, key) == expected
