"""Arena-Hard's five-point scale (pairwise ``scale: 5``): labels, order mapping, battles, calibration, review."""

import math

import pytest
from pydantic import ValidationError

from service.core.calibration import reliability_report
from service.core.judging import JudgeOutput
from service.core.protocol import CallResult
from service.core.protocols.pairwise.models import PairwiseItem, PairwiseOptions, PairwiseReview
from service.core.protocols.pairwise.protocol import PairwiseProtocol
from service.core.protocols.pairwise.scales import FIVE_POINT_LABELS, FIVE_POINT_QUESTION, five_point
from service.core.two_responses import battle_for_a, label_for_a, preference_for_a, slot_label

PROTOCOL = PairwiseProtocol()
FIVE = PairwiseOptions(scale=5)
SCALE = five_point(3)


def make_item(**overrides) -> PairwiseItem:
    fields = {"id": "i1", "prompt": "What is 2+2?", "response_a": "four", "response_b": "five"}
    fields.update(overrides)
    return PairwiseItem(**fields)


def results(*calls):
    return [CallResult(order, sample, label, probs, label or "") for order, sample, label, probs in calls]


@pytest.mark.parametrize("order, label, preference, outcome, slot, battle", [
    # label names positions: in order ab "A" is the item's response A, in order ba it is response B
    ("ab", "A>>B", 1.0, "a", "1", (3.0, 3.0)),
    ("ab", "A>B", 1.0, "a", "1", (1.0, 1.0)),
    ("ab", "A=B", 0.5, "tie", "tie", (0.5, 1.0)),
    ("ab", "B>A", 0.0, "b", "2", (0.0, 1.0)),
    ("ab", "B>>A", 0.0, "b", "2", (0.0, 3.0)),
    ("ba", "A>>B", 0.0, "b", "1", (0.0, 3.0)),
    ("ba", "A>B", 0.0, "b", "1", (0.0, 1.0)),
    ("ba", "A=B", 0.5, "tie", "tie", (0.5, 1.0)),
    ("ba", "B>A", 1.0, "a", "2", (1.0, 1.0)),
    ("ba", "B>>A", 1.0, "a", "2", (3.0, 3.0)),
    ("ab", None, None, None, None, None),
])
def test_each_label_in_each_order(order, label, preference, outcome, slot, battle):
    assert preference_for_a(order, label, None, SCALE) == preference
    assert label_for_a(order, label, SCALE) == outcome
    assert slot_label(label, SCALE) == slot
    assert battle_for_a(order, label, None, SCALE) == battle


@pytest.mark.parametrize("order, probs, preference, battle", [
    # P(A better) + ½·P(tie), exactly as on three labels; battles weight the strong labels
    ("ab", {"A>>B": 0.5, "A>B": 0.2, "A=B": 0.2, "B>A": 0.1}, 0.8, (0.5 * 3 + 0.2 + 0.1, 1.5 + 0.2 + 0.2 + 0.1)),
    ("ba", {"A>>B": 0.5, "A>B": 0.2, "A=B": 0.2, "B>A": 0.1}, 0.2, (0.1 + 0.1, 2.0)),
    ("ab", {"B>>A": 1.0}, 0.0, (0.0, 3.0)),
])
def test_label_probabilities_average(order, probs, preference, battle):
    assert preference_for_a(order, None, probs, SCALE) == pytest.approx(preference)
    credit, weight = battle_for_a(order, None, probs, SCALE)
    assert (credit, weight) == (pytest.approx(battle[0]), pytest.approx(battle[1]))


@pytest.mark.parametrize("calls, outcome, score, inconsistent, battle", [
    # A much better in both orders: one item worth 3 battles, all won
    ([("ab", 0, "A>>B", None), ("ba", 0, "B>>A", None)], "a", 1.0, False, {"score": 1.0, "weight": 3.0}),
    # slightly better one way, much better the other: 4 battles of 4 won, weight 2 per call
    ([("ab", 0, "A>B", None), ("ba", 0, "B>>A", None)], "a", 1.0, False, {"score": 1.0, "weight": 2.0}),
    # the first slot wins strongly in both orders (position bias): preference ½, battles balance out
    ([("ab", 0, "A>>B", None), ("ba", 0, "A>>B", None)], "tie", 0.5, True, {"score": 0.5, "weight": 3.0}),
    # A slightly better in one order, B much better in the other: a tie by preference, B by battles
    ([("ab", 0, "A>B", None), ("ba", 0, "A>>B", None)], "tie", 0.5, True, {"score": 0.25, "weight": 2.0}),
    # ties both ways
    ([("ab", 0, "A=B", None), ("ba", 0, "A=B", None)], "tie", 0.5, False, {"score": 0.5, "weight": 1.0}),
    # one order unreadable: the other decides
    ([("ab", 0, "B>A", None), ("ba", 0, None, None)], "b", 0.0, False, {"score": 0.0, "weight": 1.0}),
])
def test_combine_both_orders(calls, outcome, score, inconsistent, battle):
    verdict = PROTOCOL.combine(make_item(), results(*calls), FIVE)
    assert (verdict.outcome, verdict.position_inconsistent) == (outcome, inconsistent)
    assert verdict.score == pytest.approx(score)
    assert verdict.details["battle"] == pytest.approx(battle)
    assert [c["verdict"] for c in verdict.details["calls"]] == [c[2] for c in calls]


def test_strong_weight_option_sets_the_battles_and_three_labels_store_none():
    calls = results(("ab", 0, "A>>B", None), ("ba", 0, "B>A", None))
    verdict = PROTOCOL.combine(make_item(), calls, PairwiseOptions(scale=5, strong_weight=5))
    assert verdict.details["battle"] == pytest.approx({"score": 1.0, "weight": 3.0})  # (5 + 1) / 2 calls
    plain = PROTOCOL.combine(make_item(), results(("ab", 0, "1", None), ("ba", 0, "2", None)), PairwiseOptions())
    assert "battle" not in plain.details and "verdict" not in plain.details["calls"][0]
    unreadable = PROTOCOL.combine(make_item(), results(("ab", 0, None, None), ("ba", 0, None, None)), FIVE)
    assert unreadable.unscored and "battle" not in unreadable.details


def test_plan_constrains_each_order_to_the_five_labels_with_assistant_slots():
    calls = PROTOCOL.plan_calls(make_item(), FIVE)
    assert [c.order for c in calls] == ["ab", "ba"]
    for call, (first, second) in zip(calls, [("four", "five"), ("five", "four")]):
        assert call.request.choices == FIVE_POINT_LABELS == ("A>>B", "A>B", "A=B", "B>A", "B>>A")
        content = call.request.messages[-1]["content"]
        assert f"[Assistant A]\n{first}\n\n[Assistant B]\n{second}\n\n" in content
        assert content.endswith(FIVE_POINT_QUESTION) and all(f'"{label}"' in content for label in FIVE_POINT_LABELS)
        assert call.request.template == "pairwise-scale5/1"
    assert PROTOCOL.plan_calls(make_item(), PairwiseOptions())[0].request.choices == ("1", "2", "tie")


def test_rationale_mode_asks_for_reasoning_then_a_constrained_five_point_verdict():
    call = PROTOCOL.plan_calls(make_item(), PairwiseOptions(scale=5, verdict_mode="rationale"))[0]
    assert call.request.rationale_tokens > 0 and call.request.verdict_followup == FIVE_POINT_QUESTION
    assert FIVE_POINT_QUESTION not in call.request.messages[-1]["content"]


@pytest.mark.parametrize("text, logprobs, label, probs", [
    ("A>>B", None, "A>>B", None),
    ("My final verdict is: [[B>A]]", None, "B>A", None),
    ("A=B", None, "A=B", None),
    ("A>B or B>A", None, None, None),
    # a tokenizer with one token per label: soft probabilities
    ("A>B", {"A>B": math.log(0.6), "A>>B": math.log(0.3), "A=B": math.log(0.1)}, "A>B",
     {"A>>B": 0.3, "A>B": 0.6, "A=B": 0.1, "B>A": 0.0, "B>>A": 0.0}),
    # the usual tokenizers split "A", ">>", "B": the first token names no one label, the text decides
    ("B>>A", {"A": math.log(0.4), "B": math.log(0.6)}, "B>>A", None),
])
def test_parse(text, logprobs, label, probs):
    call = PROTOCOL.plan_calls(make_item(), FIVE)[0]
    result = PROTOCOL.parse(call, JudgeOutput(text=text, verdict_top_logprobs=logprobs), FIVE)
    assert result.label == label
    assert result.label_probs == (None if probs is None else pytest.approx(probs))


def test_reliability_counts_first_position_wins_and_consistency_on_five_labels():
    calls = [[("ab", 0, "A>>B", None), ("ba", 0, "B>A", None)],   # consistent: A
             [("ab", 0, "A>B", None), ("ba", 0, "A>>B", None)],   # first slot twice: inconsistent
             [("ab", 0, "A=B", None), ("ba", 0, "A=B", None)]]    # tie
    verdicts = [PROTOCOL.combine(make_item(id=f"i{n}"), results(*c), FIVE) for n, c in enumerate(calls)]
    report = reliability_report(verdicts, FIVE.order_names())
    assert report["position_consistency_rate"] == pytest.approx(2 / 3)
    assert report["first_position_win_rate"] == pytest.approx((1 + 0 + 1 + 1 + 0.5 + 0.5) / 6)
    assert report["tie_rate"] == pytest.approx(2 / 3)


def test_a_review_replaces_the_judge_and_drops_the_weighted_battle():
    verdict = PROTOCOL.combine(make_item(), results(("ab", 0, "A>>B", None), ("ba", 0, "B>>A", None)), FIVE)
    reviewed = PROTOCOL.apply_review(make_item(), verdict, PairwiseReview(label="b"))
    assert (reviewed.outcome, reviewed.score, reviewed.details["battle"]) == ("b", 0.0, None)
    assert reviewed.details["judge"]["score"] == 1.0


@pytest.mark.parametrize("options, message", [
    ({"scale": 4}, "scale"),
    ({"strong_weight": 5}, "only with scale 5"),
    ({"scale": 5, "strong_weight": 0}, "strong_weight"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValidationError, match=message):
        PairwiseOptions(**options)
