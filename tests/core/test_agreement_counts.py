"""Agreement counted from (human, judge) pairs gives exactly the values of the label lists written out."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from service.core.agreement import agreement
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
