"""Multi-turn rating (MT-Bench single-answer grading): prompts per turn, per-turn verdicts, suite items."""

import pytest
from pydantic import ValidationError

from service.core.protocol import CallResult
from service.core.protocols.rating.models import RatingItem, RatingOptions, RatingSuiteItem
from service.core.protocols.rating.protocol import RatingProtocol
from service.core.protocols.rating.turns import turn_number

PROTOCOL = RatingProtocol()
MATH = {"id": "m1", "turns": ["What is 2+2?", "Now multiply it by 3."], "responses": ["It is 4.", "That gives 12."],
        "reference_turns": ["4", "12"], "category": "math"}


def content(item, options=RatingOptions(), index=0):
    return PROTOCOL.plan_calls(item, options)[index].request.messages[-1]["content"]


def test_turn_one_is_graded_like_a_single_turn_item_with_its_reference():
    item = RatingItem(**MATH)
    single = RatingItem(id="m1", prompt="What is 2+2?", response="It is 4.", reference="4")
    assert content(item) == content(single)


def test_turn_two_shows_the_whole_conversation_with_the_models_own_answer_and_both_references():
    text = content(RatingItem(**MATH), index=1)
    assert ("[Reference answers]\n[User turn 1]\nWhat is 2+2?\n\n[Reference answer to turn 1]\n4\n\n"
            "[User turn 2]\nNow multiply it by 3.\n\n[Reference answer to turn 2]\n12\n[End of reference answers]") in text
    assert ("[Conversation]\n[User turn 1]\nWhat is 2+2?\n\n[Assistant turn 1]\nIt is 4.\n\n[User turn 2]\n"
            "Now multiply it by 3.\n\n[Assistant turn 2]\nThat gives 12.\n[End of conversation]") in text
    assert "Grade only the assistant's answer to user turn 2" in text
    assert text.index("[Rubric]") < text.index("[Reference answers]") < text.index("[Conversation]")


@pytest.mark.parametrize("references, shown", [
    (None, False),             # writing, roleplay...: FastChat's single-v1-multi-turn, no reference
    ([None, "12"], True),      # a reference for turn 2 only
    (["4", None], True),       # turn 1's reference is shown on turn 2
])
def test_references_appear_on_turn_two_where_the_item_has_them(references, shown):
    item = RatingItem(**{**MATH, "reference_turns": references})
    assert ("[Reference answers]" in content(item, index=1)) is shown
    assert ("[Reference answer]" in content(item, index=0)) is bool(references and references[0])


def test_plan_keys_each_turn_and_sample_with_distinct_seeds():
    options = RatingOptions(samples=2, temperature=0.7, seed=4)
    calls = PROTOCOL.plan_calls(RatingItem(**MATH), options)
    assert [(c.order, c.sample) for c in calls] == [("turn1", 0), ("turn1", 1), ("turn2", 0), ("turn2", 1)]
    assert len({c.request.seed for c in calls}) == 4
    assert "turn 2" in calls[2].request.messages[-1]["content"] and "turn 2" not in calls[0].request.messages[-1]["content"]
    rationale = PROTOCOL.plan_calls(RatingItem(**MATH), RatingOptions(verdict_mode="rationale"))
    assert "turn 2" in rationale[1].request.verdict_followup and "turn 2" not in rationale[0].request.verdict_followup


@pytest.mark.parametrize("calls, score, turns, bpde", [
    # one call per turn: the item is the mean of its turns (MT-Bench's average)
    ([("turn1", 0, "5"), ("turn2", 0, "3")], 4.0, [5.0, 3.0], 0.0),
    # two samples per turn: each turn averages its samples; BPDE is the mean of the turns' entropies
    ([("turn1", 0, "5"), ("turn1", 1, "3"), ("turn2", 0, "2"), ("turn2", 1, "2")], 3.0, [4.0, 2.0], 0.3466),
    # a turn the judge could not read is left out of the item's mean and reported as null
    ([("turn1", 0, "4"), ("turn2", 0, None)], 4.0, [4.0, None], 0.0),
])
def test_combine_per_turn(calls, score, turns, bpde):
    results = [CallResult(order, sample, label, None, label or "") for order, sample, label in calls]
    verdict = PROTOCOL.combine(RatingItem(**MATH), results, RatingOptions())
    assert verdict.score == pytest.approx(score) and verdict.outcome == str(round(score))
    assert [t["score"] for t in verdict.details["turns"]] == turns
    assert verdict.bpde == pytest.approx(bpde, abs=1e-4)


def test_unreadable_turns_make_the_item_unscored():
    results = [CallResult("turn1", 0, None, None, ""), CallResult("turn2", 0, None, None, "")]
    assert PROTOCOL.combine(RatingItem(**MATH), results, RatingOptions()).unscored


def test_summary_reports_each_turn_and_category():
    items = [RatingItem(**MATH), RatingItem(**{**MATH, "id": "m2"}),
             RatingItem(**{**MATH, "id": "w1", "category": "writing", "reference_turns": None})]
    labels = [("5", "3"), ("4", "2"), ("2", "1")]
    verdicts = [PROTOCOL.combine(item, [CallResult("turn1", 0, a, None, a), CallResult("turn2", 0, b, None, b)],
                                 RatingOptions()) for item, (a, b) in zip(items, labels)]
    summary, _ = PROTOCOL.summarize(items, verdicts, RatingOptions())
    assert summary["per_turn"]["1"]["mean_score"] == pytest.approx(11 / 3)
    assert summary["per_turn"]["2"]["mean_score"] == pytest.approx(2.0)
    assert summary["mean_score"] == pytest.approx((4 + 3 + 1.5) / 3)
    assert summary["per_category"] == {
        "math": {"n": 2, "mean_score": pytest.approx(3.5), "per_turn": {"1": 4.5, "2": 2.5}},
        "writing": {"n": 1, "mean_score": 1.5, "per_turn": {"1": 2.0, "2": 1.0}},
    }


@pytest.mark.parametrize("fields, loc", [
    ({"responses": ["one"]}, "responses"),
    ({"reference_turns": ["4"]}, "reference_turns"),
    ({"prompt": "p"}, "prompt"),
    ({"reference": "4"}, "reference"),
    ({"turns": None}, "responses"),
    ({"turns": []}, "turns"),
])
def test_invalid_multi_turn_items_name_the_field(fields, loc):
    raw = {k: v for k, v in {**MATH, **fields}.items() if v is not None}
    with pytest.raises(ValidationError) as info:
        RatingItem.model_validate(raw)
    assert info.value.errors()[0]["loc"] == (loc,)


def test_from_suite_builds_a_multi_turn_item():
    suite_item = {"turns": MATH["turns"], "reference_turns": ["4", "12"], "category": "math"}
    built = PROTOCOL.from_suite(suite_item, {"id": "m1", "responses": ["a", "b"], "human_score": 3})
    assert built == {"id": "m1", "turns": MATH["turns"], "responses": ["a", "b"], "reference_turns": ["4", "12"],
                     "category": "math", "human_score": 3}
    assert RatingItem.model_validate(built).multi_turn
    for submitted in [{"id": "x", "response": "a", "responses": ["a"]}, {"id": "x"}]:
        with pytest.raises(ValidationError):
            RatingSuiteItem.model_validate(submitted)


@pytest.mark.parametrize("order, turn", [("single", 1), ("turn1", 1), ("turn2", 2), ("turn12", 12)])
def test_turn_number(order, turn):
    assert turn_number(order) == turn
