"""The pairwise protocol: prompts, order mapping, combining, aggregation, simulated judges."""

import json
import math
import random

import pytest
from pydantic import ValidationError

from service.core.judging import JudgeOutput
from service.core.protocols.pairwise.models import PairwiseItem, PairwiseOptions
from service.core.protocols.pairwise.protocol import PairwiseProtocol, render_messages
from service.core.two_responses import LABELS, RATIONALE_QUESTION, VERDICT_QUESTION, label_for_a, preference_for_a
from service.core.protocol import CallResult, get_protocol, protocol_names

PROTOCOL = PairwiseProtocol()


def make_item(**overrides) -> PairwiseItem:
    fields = {"id": "i1", "prompt": "What is 2+2?", "response_a": "4", "response_b": "5"}
    fields.update(overrides)
    return PairwiseItem(**fields)


def test_registered_by_name():
    assert "pairwise" in protocol_names()
    assert get_protocol("pairwise").name == "pairwise"


def test_render_puts_shared_text_first_and_swaps_responses():
    item = make_item(rubric="Be exact.", reference="4")
    ab, ba = render_messages(item, "ab")[-1]["content"], render_messages(item, "ba")[-1]["content"]
    shared = ab.split("[Response 1]")[0]
    assert ba.startswith(shared)  # both orders share the prefix: rubric, question, reference
    assert shared.index("[Rubric]") < shared.index("[User request]") < shared.index("[Reference answer]")
    assert "[Response 1]\n4\n\n[Response 2]\n5\n\n" in ab
    assert "[Response 1]\n5\n\n[Response 2]\n4\n\n" in ba


def test_the_default_request_asks_the_question_and_defines_every_label():
    request = PROTOCOL.plan_calls(make_item(), PairwiseOptions())[0].request
    last = request.messages[-1]["content"]
    assert last.rstrip().endswith(VERDICT_QUESTION)
    for label in request.choices:
        assert f'"{label}"' in last
    assert request.rationale_tokens == 0


def test_render_conversation():
    item = PairwiseItem(id="c", conversation=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                                               {"role": "user", "content": "bye?"}], response_a="x", response_b="y")
    content = render_messages(item, "ab")[-1]["content"]
    assert "User: hi\nAssistant: hello\nUser: bye?" in content


@pytest.mark.parametrize(
    "order, label, probs, expected_pref, expected_outcome",
    [
        ("ab", "1", None, 1.0, "a"), ("ab", "2", None, 0.0, "b"), ("ab", "tie", None, 0.5, "tie"),
        ("ba", "1", None, 0.0, "b"), ("ba", "2", None, 1.0, "a"), ("ba", "tie", None, 0.5, "tie"),
        ("ab", "1", {"1": 0.6, "2": 0.2, "tie": 0.2}, 0.7, "a"),
        ("ba", "1", {"1": 0.6, "2": 0.2, "tie": 0.2}, 0.3, "b"),
        ("ab", None, None, None, None),
    ],
)
def test_order_mapping(order, label, probs, expected_pref, expected_outcome):
    pref = preference_for_a(order, label, probs)
    assert pref == (None if expected_pref is None else pytest.approx(expected_pref))
    assert label_for_a(order, label) == expected_outcome


def _results(*calls):
    return [CallResult(order, sample, label, probs, label or "") for order, sample, label, probs in calls]


@pytest.mark.parametrize(
    "calls, outcome, score, inconsistent, unscored",
    [
        # A wins in both orders
        ([("ab", 0, "1", None), ("ba", 0, "2", None)], "a", 1.0, False, False),
        # first slot wins both times: classic position bias -> tie and inconsistent
        ([("ab", 0, "1", None), ("ba", 0, "1", None)], "tie", 0.5, True, False),
        # soft: 97% on the first slot in both orders (SmolLM2's behaviour) -> preference 0.5
        ([("ab", 0, "1", {"1": 0.97, "2": 0.03, "tie": 0.0}), ("ba", 0, "1", {"1": 0.97, "2": 0.03, "tie": 0.0})],
         "tie", 0.5, True, False),
        # one order unparseable: verdict from the other, no inconsistency flag
        ([("ab", 0, "2", None), ("ba", 0, None, None)], "b", 0.0, False, False),
        # nothing parseable -> unscored, never counted as a loss
        ([("ab", 0, None, None), ("ba", 0, None, None)], None, None, False, True),
        # both orders say tie
        ([("ab", 0, "tie", None), ("ba", 0, "tie", None)], "tie", 0.5, False, False),
    ],
)
def test_combine(calls, outcome, score, inconsistent, unscored):
    verdict = PROTOCOL.combine(make_item(), _results(*calls), PairwiseOptions())
    assert verdict.outcome == outcome
    assert verdict.score == (None if score is None else pytest.approx(score))
    assert verdict.position_inconsistent is inconsistent
    assert verdict.unscored is unscored


def test_tie_margin_widens_ties():
    calls = _results(("ab", 0, "1", {"1": 0.6, "2": 0.4, "tie": 0.0}), ("ba", 0, "2", {"1": 0.4, "2": 0.6, "tie": 0.0}))
    assert PROTOCOL.combine(make_item(), calls, PairwiseOptions(tie_margin=0.05)).outcome == "a"
    assert PROTOCOL.combine(make_item(), calls, PairwiseOptions(tie_margin=0.2)).outcome == "tie"


def test_sampled_calls_are_unseeded_unless_the_user_fixes_a_seed():
    unseeded = PROTOCOL.plan_calls(make_item(), PairwiseOptions(samples=2, temperature=0.7))
    assert all(c.request.seed is None and c.request.cache_key("j") is None for c in unseeded)
    greedy = PROTOCOL.plan_calls(make_item(), PairwiseOptions())
    assert all(c.request.seed is not None and c.request.cache_key("j") for c in greedy)


def test_from_suite_builds_the_item_and_refuses_what_does_not_fit():
    suite_item = {"prompt": "q", "reference": "r", "category": "math", "baseline_response": "base"}
    built = PROTOCOL.from_suite(suite_item, {"id": "x", "response": "mine", "human_label": "a"})
    assert built == {"id": "x", "prompt": "q", "reference": "r", "category": "math", "response_a": "mine",
                     "response_b": "base", "human_label": "a"}
    for submitted, suite, message in [
        ({"id": "x", "response": "m", "prompt": "other"}, suite_item, "carries only"),
        ({"id": "x"}, suite_item, "missing 'response'"),
        ({"id": "x", "response": "m"}, {"turns": ["a", "b"], "baseline_response": "b"}, "has 2 turns: submit 'responses'"),
        ({"id": "x", "responses": ["m", "n"]}, {"turns": ["a", "b"]}, "no baseline_responses"),
        ({"id": "x", "response": "m"}, {"prompt": "q"}, "no baseline_response"),
    ]:
        with pytest.raises(ValueError, match=message):
            PROTOCOL.from_suite(suite, submitted)


def test_plan_calls_orders_samples_and_seeds():
    options = PairwiseOptions(samples=3, temperature=0.8, seed=5)
    calls = PROTOCOL.plan_calls(make_item(), options)
    assert [(c.order, c.sample) for c in calls] == [(o, s) for o in ("ab", "ba") for s in range(3)]
    assert len({c.request.seed for c in calls}) == 6
    assert calls == PROTOCOL.plan_calls(make_item(), options)  # deterministic
    assert all(c.request.choices == LABELS and c.request.temperature == 0.8 for c in calls)
    assert [c.order for c in PROTOCOL.plan_calls(make_item(), PairwiseOptions(orders="single"))] == ["ab"]


def test_rationale_mode_asks_for_reasoning_then_verdict():
    call = PROTOCOL.plan_calls(make_item(), PairwiseOptions(verdict_mode="rationale", rationale_tokens=64))[0]
    assert call.request.rationale_tokens == 64
    assert call.request.messages[-1]["content"].endswith(RATIONALE_QUESTION)
    assert VERDICT_QUESTION not in call.request.messages[-1]["content"]
    assert '"tie"' in call.request.verdict_followup


@pytest.mark.parametrize(
    "options, field",
    [({"samples": 2, "temperature": 0.0}, None), ({"orders": "three"}, "orders"), ({"samples": 0}, "samples"),
     ({"tie_margin": 0.7}, "tie_margin"), ({"bogus": 1}, "bogus"), ({"verdict_mode": "vibes"}, "verdict_mode")],
)
def test_invalid_options(options, field):
    with pytest.raises(ValidationError) as info:
        PairwiseOptions(**options)
    if field:
        assert info.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(
    "fields",
    [{"prompt": None}, {"conversation": [{"role": "user", "content": "x"}]}, {"response_b": None}, {"id": ""},
     {"human_label": "c"}, {"extra": 1}],
)
def test_invalid_items(fields):
    raw = {"id": "i1", "prompt": "p", "response_a": "a", "response_b": "b"}
    raw.update(fields)
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ValidationError):
        PairwiseItem(**raw)


def test_parse_prefers_probabilities_and_falls_back_to_text():
    call = PROTOCOL.plan_calls(make_item(), PairwiseOptions())[0]
    out = JudgeOutput(text="tie", verdict_top_logprobs={"1": math.log(0.7), "2": math.log(0.2), "t": math.log(0.1)})
    result = PROTOCOL.parse(call, out, PairwiseOptions())
    assert result.label == "tie" and result.label_probs["1"] == pytest.approx(0.7)
    assert PROTOCOL.parse(call, JudgeOutput(text="2"), PairwiseOptions()).label == "2"
    assert PROTOCOL.parse(call, JudgeOutput(text="", error="boom"), PairwiseOptions()).label is None


def test_summary_win_rate_and_human_agreement():
    items = [make_item(id=f"i{i}", human_label=h) for i, h in enumerate(["a", "a", "b", "tie"])]
    calls = [[("ab", 0, "1", None), ("ba", 0, "2", None)],   # a
             [("ab", 0, "1", None), ("ba", 0, "1", None)],   # tie (inconsistent)
             [("ab", 0, "2", None), ("ba", 0, "1", None)],   # b
             [("ab", 0, None, None), ("ba", 0, None, None)]]  # unscored
    options = PairwiseOptions()
    verdicts = [PROTOCOL.combine(item, _results(*c), options) for item, c in zip(items, calls)]
    summary, reliability = PROTOCOL.summarize(items, verdicts, options)
    assert summary["win_rate"] == pytest.approx(0.5)
    assert (summary["wins"], summary["losses"], summary["ties"], summary["n_unscored"]) == (1, 1, 1, 1)
    low, high = summary["win_rate_ci95"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert summary["n_human_labelled"] == 3 and summary["judge_accuracy"] == pytest.approx(2 / 3)
    assert reliability["position_consistency_rate"] == pytest.approx(2 / 3)
    assert reliability["unscored_rate"] == pytest.approx(0.25)


def test_summary_reports_scott_pi_wherever_it_reports_kappa():
    items = [make_item(id=f"i{i}", human_label=h) for i, h in enumerate(["a", "a", "b", "tie"])]
    calls = [[("ab", 0, "1", None), ("ba", 0, "2", None)],   # a in both orders
             [("ab", 0, "1", None), ("ba", 0, "1", None)],   # ab: a, ba: b -> tie
             [("ab", 0, "2", None), ("ba", 0, "1", None)],   # b in both orders
             [("ab", 0, None, None), ("ba", 0, None, None)]]  # unscored
    options = PairwiseOptions()
    verdicts = [PROTOCOL.combine(item, _results(*c), options) for item, c in zip(items, calls)]
    summary, _ = PROTOCOL.summarize(items, verdicts, options)
    # calibrated pairs (a,a) (a,tie) (b,b): po 2/3; pooled a 3/6, b 2/6, tie 1/6 -> pe 14/36 -> pi = 10/22
    assert summary["judge_scott_pi"] == pytest.approx(5 / 11)
    report = summary["human_agreement"]  # the reliability report carries the same (service.evaluations.results)
    assert report["calibrated"]["scott_pi"] == pytest.approx(5 / 11)
    # ab order: (a,a) (a,a) (b,b) -> 1; ba order: (a,a) (a,b) (b,b): po 2/3, pooled ½ / ½ -> 1/3
    assert report["per_order"]["ab"]["scott_pi"] == pytest.approx(1.0)
    assert report["per_order"]["ba"]["scott_pi"] == pytest.approx(1 / 3)


def test_agreement_on_a_single_label_is_none_not_nan():
    """Everyone says "a": κ's and π's chance agreement is 1, so π is 0/0; the summary stays valid JSON."""
    items = [make_item(id=f"i{i}", human_label="a") for i in range(3)]
    options = PairwiseOptions()
    verdicts = [PROTOCOL.combine(item, _results(("ab", 0, "1", None), ("ba", 0, "2", None)), options)
                for item in items]
    summary, reliability = PROTOCOL.summarize(items, verdicts, options)
    assert summary["judge_accuracy"] == 1.0 and summary["judge_scott_pi"] is None
    json.dumps([summary, reliability], allow_nan=False)


def test_cache_key_covers_judge_prompt_and_sampling():
    from dataclasses import replace

    request = PROTOCOL.plan_calls(make_item(), PairwiseOptions())[0].request
    key = request.cache_key("judge-a")
    assert key == request.cache_key("judge-a") and len(key) == 64
    assert request.cache_key("judge-b") != key
    assert replace(request, seed=request.seed + 1).cache_key("judge-a") == key  # greedy: the seed changes nothing
    warm = replace(request, temperature=0.5)
    assert warm.cache_key("judge-a") != key
    assert replace(warm, seed=warm.seed + 1).cache_key("judge-a") != warm.cache_key("judge-a")
    assert replace(request, messages=request.messages[:1]).cache_key("judge-a") != key
    # temperature > 0 without a fixed seed is not reproducible: never cached
    assert replace(request, temperature=0.7, seed=None).cache_key("judge-a") is None
    assert replace(request, temperature=0.0, seed=None).cache_key("judge-a") is not None
