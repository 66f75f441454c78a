"""A simulated judge with a known position bias, run through the real protocol code."""

import random

import pytest

from service.core.judging import JudgeOutput
from service.core.protocols.pairwise.protocol import PairwiseItem, PairwiseOptions, PairwiseProtocol

PROTOCOL = PairwiseProtocol()


def biased_judge(p_first: float, rng: random.Random):
    """Prefers whatever sits in the first slot with probability p, ignoring content."""
    def answer(_request) -> JudgeOutput:
        return JudgeOutput(text="1" if rng.random() < p_first else "2")
    return answer


def run(items, options, judge):
    verdicts = []
    for item in items:
        calls = PROTOCOL.plan_calls(item, options)
        results = [PROTOCOL.parse(c, judge(c.request), options) for c in calls]
        verdicts.append(PROTOCOL.combine(item, results, options))
    return PROTOCOL.summarize(items, verdicts, options)


def items(n, identical):
    return [PairwiseItem(id=f"q{i}", prompt=f"question {i}", response_a=f"answer {i}",
                         response_b=f"answer {i}" if identical else f"other {i}") for i in range(n)]


@pytest.mark.parametrize("p", [0.6, 0.75, 0.9])
def test_single_order_shows_the_bias_as_first_position_win_rate(p):
    summary, reliability = run(items(2000, identical=False), PairwiseOptions(orders="single"), biased_judge(p, random.Random(1)))
    assert reliability["first_position_win_rate"] == pytest.approx(p, abs=0.03)
    assert summary["win_rate"] == pytest.approx(p, abs=0.03)  # single order: the bias leaks into the metric


@pytest.mark.parametrize("p", [0.6, 0.75, 0.9])
def test_both_orders_cancel_the_bias_on_identical_responses(p):
    summary, reliability = run(items(2000, identical=True), PairwiseOptions(), biased_judge(p, random.Random(2)))
    assert summary["win_rate"] == pytest.approx(0.5, abs=0.02)
    low, high = summary["win_rate_ci95"]
    assert low < 0.5 < high
    assert reliability["first_position_win_rate"] == pytest.approx(p, abs=0.03)
    # P(both orders' labels agree on A or on B) = 2p(1-p); the rest are position-inconsistent
    assert reliability["position_consistency_rate"] == pytest.approx(2 * p * (1 - p), abs=0.03)


def test_multiple_evidence_samples_average_over_all_calls():
    options = PairwiseOptions(samples=4, temperature=0.7)
    summary, reliability = run(items(500, identical=True), options, biased_judge(0.8, random.Random(3)))
    assert reliability["n_calls_scored"] == 500 * 8
    assert summary["win_rate"] == pytest.approx(0.5, abs=0.02)
