"""Multi-turn pairwise (MT-Bench pair-v2 / pair-v2-multi-turn): each turn compared, later turns over both
models' full conversations, per-turn verdicts and summaries."""

import pytest
from pydantic import ValidationError

from service.core.calibration import reliability_report
from service.core.protocol import CallResult
from service.core.protocols.pairwise.models import PairwiseItem, PairwiseOptions
from service.core.protocols.pairwise.protocol import PairwiseProtocol
from service.core.protocols.pairwise.turns import split_order, turn_order

PROTOCOL = PairwiseProtocol()
ITEM = {"id": "m1", "turns": ["What is 2+2?", "Now multiply it by 3."], "responses_a": ["4.", "12."],
        "responses_b": ["5.", "15."], "reference_turns": ["4", "12"], "category": "math"}


def results(*calls):
    return [CallResult(order, 0, label, None, label or "") for order, label in calls]


def test_turn_one_is_compared_like_a_single_turn_item():
    planned = PROTOCOL.plan_calls(PairwiseItem(**ITEM), PairwiseOptions())
    single = PROTOCOL.plan_calls(PairwiseItem(id="m1", prompt="What is 2+2?", response_a="4.", response_b="5.",
                                              reference="4"), PairwiseOptions())
    assert [c.order for c in planned] == ["ab", "ba", "ab.t2", "ba.t2"]
    assert [c.request for c in planned[:2]] == [c.request for c in single]
    assert len({c.request.seed for c in planned}) == 4


@pytest.mark.parametrize("order, first, second", [("ab", ("4.", "12."), ("5.", "15.")),
                                                  ("ba", ("5.", "15."), ("4.", "12."))])
def test_turn_two_shows_both_full_conversations_in_the_orders_slots(order, first, second):
    call = next(c for c in PROTOCOL.plan_calls(PairwiseItem(**ITEM), PairwiseOptions()) if c.order == f"{order}.t2")
    text = call.request.messages[-1]["content"]
    for name, answers in (("Response 1", first), ("Response 2", second)):
        assert (f"[Conversation with {name}]\n[User turn 1]\nWhat is 2+2?\n\n[{name}, turn 1]\n{answers[0]}\n\n"
                f"[User turn 2]\nNow multiply it by 3.\n\n[{name}, turn 2]\n{answers[1]}\n[End of conversation]") in text
    assert "[Reference answer to turn 2]\n12" in text and "answers to user turn 2" in text
    assert text.index("[Reference answers]") < text.index("[Conversation with Response 1]") < text.index(
        "[Conversation with Response 2]")


def test_five_point_scale_names_the_conversations_by_assistant():
    call = PROTOCOL.plan_calls(PairwiseItem(**ITEM), PairwiseOptions(scale=5))[2]
    assert call.order == "ab.t2" and "[Conversation with Assistant A]" in call.request.messages[-1]["content"]
    assert call.request.choices == ("A>>B", "A>B", "A=B", "B>A", "B>>A")


@pytest.mark.parametrize("calls, score, turns, inconsistent", [
    # A wins turn 1 in both orders, B wins turn 2 in both: 1/2 overall, consistent
    ([("ab", "1"), ("ba", "2"), ("ab.t2", "2"), ("ba.t2", "1")], 0.5, [(1.0, "a", False), (0.0, "b", False)], False),
    # turn 2 is position-biased (first slot both times): inconsistent item
    ([("ab", "1"), ("ba", "2"), ("ab.t2", "1"), ("ba.t2", "1")], 0.75, [(1.0, "a", False), (0.5, "tie", True)], True),
    # turn 2 unreadable: the item is turn 1 alone
    ([("ab", "2"), ("ba", "1"), ("ab.t2", None), ("ba.t2", None)], 0.0, [(0.0, "b", False)], False),
])
def test_combine_per_turn(calls, score, turns, inconsistent):
    verdict = PROTOCOL.combine(PairwiseItem(**ITEM), results(*calls), PairwiseOptions())
    assert verdict.score == pytest.approx(score) and verdict.position_inconsistent is inconsistent
    assert [(t["preference"], t["outcome"], t["position_inconsistent"]) for t in verdict.details["turns"]] == turns
    assert [c["turn"] for c in verdict.details["calls"]] == [1, 1, 2, 2]


def test_single_turn_verdicts_keep_their_shape():
    verdict = PROTOCOL.combine(PairwiseItem(id="s", prompt="p", response_a="a", response_b="b"),
                               results(("ab", "1"), ("ba", "2")), PairwiseOptions())
    assert "turns" not in verdict.details
    assert set(verdict.details["calls"][0]) == {"order", "sample", "label", "outcome", "preference"}


def test_reliability_and_summary_per_turn_and_category():
    items = [PairwiseItem(**ITEM), PairwiseItem(**{**ITEM, "id": "w1", "category": "writing", "reference_turns": None})]
    verdicts = [PROTOCOL.combine(items[0], results(("ab", "1"), ("ba", "2"), ("ab.t2", "2"), ("ba.t2", "1")),
                                 PairwiseOptions()),
                PROTOCOL.combine(items[1], results(("ab", "1"), ("ba", "2"), ("ab.t2", "1"), ("ba.t2", "1")),
                                 PairwiseOptions())]
    summary, reliability = PROTOCOL.summarize(items, verdicts, PairwiseOptions())
    assert summary["per_turn"]["1"]["win_rate"] == 1.0 and summary["per_turn"]["2"]["win_rate"] == pytest.approx(0.25)
    assert summary["per_category"]["writing"] == {"n": 1, "win_rate": 0.75, "per_turn": {"1": 1.0, "2": 0.5}}
    assert summary["win_rate"] == pytest.approx(0.625)
    assert reliability["position_consistency_rate"] == pytest.approx(0.5)
    assert reliability == reliability_report(verdicts, ("ab", "ba")) | reliability


@pytest.mark.parametrize("fields, loc", [
    ({"responses_a": ["4."]}, "responses_a"),
    ({"responses_b": None}, "responses_b"),
    ({"reference_turns": ["4"]}, "reference_turns"),
    ({"prompt": "p"}, "prompt"),
    ({"response_a": "x"}, "response_a"),
    ({"turns": None}, "prompt"),
])
def test_invalid_multi_turn_items_name_the_field(fields, loc):
    raw = {k: v for k, v in {**ITEM, **fields}.items() if v is not None}
    with pytest.raises(ValidationError) as info:
        PairwiseItem.model_validate(raw)
    assert info.value.errors()[0]["loc"] == (loc,)


def test_from_suite_compares_the_submission_with_the_suites_baseline_answers():
    suite_item = {"turns": ITEM["turns"], "reference_turns": ["4", "12"], "category": "math",
                  "baseline_responses": ["5.", "15."]}
    built = PROTOCOL.from_suite(suite_item, {"id": "m1", "responses": ["4.", "12."]})
    assert PairwiseItem.model_validate(built) == PairwiseItem(**ITEM)


@pytest.mark.parametrize("order, turn", [("ab", 1), ("ba", 1), ("ab.t2", 2), ("ba.t10", 10)])
def test_order_keys(order, turn):
    assert split_order(order) == (order.split(".")[0], turn)
    assert turn_order(*split_order(order)) == order
