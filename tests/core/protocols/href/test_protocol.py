"""The href protocol: method table, prompts, planned calls, parsing, combining, summaries, review, suites."""

import json
import math

import pytest
from pydantic import ValidationError

from service.core.protocols.href.protocol import (
    REFERENCE_HEADER, TEMPLATE, HrefItem, HrefOptions, HrefProtocol, HrefReview, method_for, render_messages,
    validate_items,
)
from service.core.judging import JudgeOutput
from service.core.length_control import SUMMARY_BOOTSTRAP_RESAMPLES, bootstrap_lc_interval, length_controlled_win_rate
from service.core.protocols.pairwise.protocol import PairwiseItem, PairwiseOptions, PairwiseProtocol
from service.core.two_responses import LABELS, VERDICT_QUESTION
from service.core.protocol import CallResult, ItemVerdict, get_protocol
from service.core.statistics import bootstrap_mean_ci

PROTOCOL = HrefProtocol()
REFERENCE = "The human expert's answer: Paris, on the Seine."


def make_item(**overrides) -> HrefItem:
    fields = {"id": "i1", "prompt": "Where is the Eiffel tower?", "category": "Generation",
              "response": "In Paris.", "baseline_response": "In Rome, I think.", "human_reference": REFERENCE}
    fields.update(overrides)
    return HrefItem(**fields)


def _results(*calls):
    return [CallResult(order, sample, label, probs, label or "") for order, sample, label, probs in calls]


def _similarity_result(sims, error=None):
    output = JudgeOutput(text=json.dumps(sims), similarities=sims, error=error)
    call = PROTOCOL.plan_calls(make_item(category="Open QA"), HrefOptions())[0]
    return PROTOCOL.parse(call, output, HrefOptions())


def test_registered_by_name():
    import service.core.protocols.href.protocol  # noqa: F401  (the decorator registers it)

    assert get_protocol("href").name == "href"


@pytest.mark.parametrize(
    "category, options, expected",
    [
        ("Generation", {}, "judge_with_reference"),
        ("Rewrite", {}, "judge_with_reference"),
        ("Brainstorm", {}, "judge"),
        ("Summarize", {}, "judge"),
        ("Open QA", {}, "embedding"),
        ("Fact Checking", {}, "embedding"),
        # normalisation: case, spaces, underscores and hyphens
        ("open_qa", {}, "embedding"),
        ("OPEN-QA", {}, "embedding"),
        ("  fact   checking ", {}, "embedding"),
        ("fact_checking", {}, "embedding"),
        ("BRAINSTORM", {}, "judge"),
        # overrides merge over the defaults
        ("Open QA", {"methods": {"open_qa": "judge"}}, "judge"),
        ("Fact Checking", {"methods": {"open_qa": "judge"}}, "embedding"),
        ("Generation", {"methods": {"generation": "embedding"}}, "embedding"),
        ("Coding", {"default_method": "judge"}, "judge"),
        ("Brainstorm", {"default_method": "embedding"}, "judge"),
        # no default: unlisted categories have no method, listed ones keep theirs
        ("Coding", {"default_method": None}, None),
        ("Summarize", {"default_method": None}, "judge"),
        ("Coding", {"default_method": None, "methods": {"coding": "judge"}}, "judge"),
    ],
)
def test_method_for(category, options, expected):
    assert method_for(category, HrefOptions(**options)) == expected


def test_method_for_without_options_uses_the_defaults():
    assert method_for("Open QA") == "embedding" and method_for("Anything") == "judge_with_reference"


@pytest.mark.parametrize(
    "options, field",
    [({"methods": {"open qa": "vibes"}}, "methods"), ({"methods": {"open_qa": "judge", "Open QA": "embedding"}}, "methods"),
     ({"methods": {" _ ": "judge"}}, "methods"), ({"default_method": "rule"}, "default_method"),
     ({"orders": "three"}, "orders"), ({"bogus": 1}, "bogus")],
)
def test_invalid_options(options, field):
    with pytest.raises(ValidationError) as info:
        HrefOptions(**options)
    assert info.value.errors()[0]["loc"][0] == field


def test_options_default_to_both_orders():
    options = HrefOptions()
    assert options.order_names() == ("ab", "ba") and options.default_method == "judge_with_reference"


def test_validate_items_names_index_field_and_category():
    items = [make_item(id="0", category="Open QA"), make_item(id="1", category="Coding"),
             {"id": "2", "category": "summarize"}, {"id": "3", "category": "Poetry"}]
    assert validate_items(items, HrefOptions()) == []
    assert validate_items(items, HrefOptions(default_method=None)) == [
        (1, "category", "no method for category 'Coding'"),
        (3, "category", "no method for category 'Poetry'"),
    ]
    assert validate_items(items, HrefOptions(default_method=None, methods={"coding": "judge", "poetry": "judge"})) == []


@pytest.mark.parametrize(
    "category, with_reference",
    [("Generation", True), ("Brainstorm", False), ("summarize", False), ("Closed QA", True)],
)
def test_the_prompt_includes_the_human_reference_exactly_for_judge_with_reference(category, with_reference):
    calls = PROTOCOL.plan_calls(make_item(category=category), HrefOptions())
    for call in calls:
        text = "\n".join(m["content"] for m in call.request.messages)
        assert (REFERENCE_HEADER in text) is with_reference
        assert (f"{REFERENCE_HEADER}\n{REFERENCE}\n\n" in text) is with_reference
        assert (REFERENCE in text) is with_reference


def test_render_puts_shared_text_first_and_swaps_responses():
    item = make_item()
    ab = render_messages(item, "ab", VERDICT_QUESTION)[-1]["content"]
    ba = render_messages(item, "ba", VERDICT_QUESTION)[-1]["content"]
    shared = ab.split("[Response 1]")[0]
    assert ba.startswith(shared)
    assert shared.index("[User request]") < shared.index(REFERENCE_HEADER)
    assert "[Response 1]\nIn Paris.\n\n[Response 2]\nIn Rome, I think.\n\n" in ab
    assert "[Response 1]\nIn Rome, I think.\n\n[Response 2]\nIn Paris.\n\n" in ba
    assert ab.endswith(VERDICT_QUESTION)


@pytest.mark.parametrize(
    "category, options, expected",
    [
        ("Generation", {}, [("ab", 0), ("ba", 0)]),
        ("Brainstorm", {}, [("ab", 0), ("ba", 0)]),
        ("Generation", {"orders": "single"}, [("ab", 0)]),
        ("Generation", {"samples": 2, "temperature": 0.7, "seed": 1}, [("ab", 0), ("ab", 1), ("ba", 0), ("ba", 1)]),
        ("Open QA", {}, [("similarity", 0)]),
        ("fact-checking", {"samples": 3, "temperature": 0.7}, [("similarity", 0)]),
        ("Coding", {"default_method": None}, []),
    ],
)
def test_plan_calls(category, options, expected):
    calls = PROTOCOL.plan_calls(make_item(category=category), HrefOptions(**options))
    assert [(c.order, c.sample) for c in calls] == expected
    assert all(c.request.template == TEMPLATE for c in calls)


def test_judged_calls_are_constrained_pairwise_verdicts():
    calls = PROTOCOL.plan_calls(make_item(), HrefOptions())
    assert all(c.request.choices == LABELS and not c.request.similarity_texts for c in calls)
    assert all(c.request.seed is not None and c.request.cache_key("j") for c in calls)


def test_the_similarity_call_compares_both_responses_to_the_human_reference():
    (call,) = PROTOCOL.plan_calls(make_item(category="Open QA"), HrefOptions())
    assert call.request.similarity_texts == (REFERENCE, "In Paris.", "In Rome, I think.")
    assert call.request.choices == () and call.request.cache_key("j") is None


@pytest.mark.parametrize(
    "output, label, raw",
    [
        (JudgeOutput(text="[0.9, 0.2]", similarities=[0.9, 0.2]), "a", [0.9, 0.2]),
        (JudgeOutput(text="[0.1, 0.7]", similarities=[0.1, 0.7]), "b", [0.1, 0.7]),
        (JudgeOutput(text="[0.5, 0.5000000001]", similarities=[0.5, 0.5000000001]), "tie", [0.5, 0.5000000001]),
        (JudgeOutput(text="[0.3, 0.2]"), "a", [0.3, 0.2]),  # similarities read from the JSON text
        (JudgeOutput(text="", error="embedding failed"), None, None),
        (JudgeOutput(text="[0.3]", similarities=[0.3]), None, None),
        (JudgeOutput(text="not json"), None, None),
        (JudgeOutput(text="[NaN, 0.1]"), None, None),
    ],
)
def test_parse_similarity(output, label, raw):
    (call,) = PROTOCOL.plan_calls(make_item(category="Open QA"), HrefOptions())
    result = PROTOCOL.parse(call, output, HrefOptions())
    assert result.label == label and result.label_probs is None
    if raw is not None:
        assert json.loads(result.raw_output) == raw


def test_parse_judged_prefers_probabilities_and_falls_back_to_text():
    call = PROTOCOL.plan_calls(make_item(), HrefOptions())[0]
    out = JudgeOutput(text="tie", verdict_top_logprobs={"1": math.log(0.7), "2": math.log(0.2), "t": math.log(0.1)})
    result = PROTOCOL.parse(call, out, HrefOptions())
    assert result.label == "tie" and result.label_probs["1"] == pytest.approx(0.7)
    assert PROTOCOL.parse(call, JudgeOutput(text="2"), HrefOptions()).label == "2"
    assert PROTOCOL.parse(call, JudgeOutput(text="Response 1 says [Response 2] wins"), HrefOptions()).label is None
    assert PROTOCOL.parse(call, JudgeOutput(text="", error="boom"), HrefOptions()).label is None


@pytest.mark.parametrize(
    "category, calls, outcome, score, inconsistent, unscored, bpde",
    [
        # candidate wins in both orders
        ("Generation", [("ab", 0, "1", None), ("ba", 0, "2", None)], "a", 1.0, False, False, 0.0),
        # first slot wins both times: tie, inconsistent, BPDE ln 2
        ("Brainstorm", [("ab", 0, "1", None), ("ba", 0, "1", None)], "tie", 0.5, True, False, math.log(2)),
        # baseline wins in both orders
        ("Summarize", [("ab", 0, "2", None), ("ba", 0, "1", None)], "b", 0.0, False, False, 0.0),
        # MEC: 2 samples per order, averaged over all 4 calls (3 for A, 1 tie) -> 0.875
        ("Generation", [("ab", 0, "1", None), ("ab", 1, "1", None), ("ba", 0, "2", None), ("ba", 1, "tie", None)],
         "a", 0.875, False, False, -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))),
        # soft verdicts: 0.7 for A in ab, 0.38 in ba -> 0.54, within the 0.05 tie margin
        ("Generation", [("ab", 0, "1", {"1": 0.6, "2": 0.2, "tie": 0.2}), ("ba", 0, "1", {"1": 0.52, "2": 0.28, "tie": 0.2})],
         "tie", 0.54, True, False, math.log(2)),
        # one order unparseable: verdict from the other
        ("Generation", [("ab", 0, "2", None), ("ba", 0, None, None)], "b", 0.0, False, False, 0.0),
        # nothing parseable: unscored, never a loss
        ("Generation", [("ab", 0, None, None), ("ba", 0, None, None)], None, None, False, True, None),
    ],
)
def test_combine_judged(category, calls, outcome, score, inconsistent, unscored, bpde):
    item = make_item(category=category)
    verdict = PROTOCOL.combine(item, _results(*calls), HrefOptions())
    assert verdict.outcome == outcome
    assert verdict.score == (None if score is None else pytest.approx(score))
    assert verdict.position_inconsistent is inconsistent and verdict.unscored is unscored
    assert verdict.bpde == (None if bpde is None else pytest.approx(bpde))
    assert verdict.details["method"] == method_for(category) and verdict.details["category"] == category


@pytest.mark.parametrize(
    "sims, outcome, score",
    [([0.9, 0.2], "a", 1.0), ([0.1, 0.7], "b", 0.0), ([0.4, 0.4], "tie", 0.5)],
)
def test_combine_embedding(sims, outcome, score):
    verdict = PROTOCOL.combine(make_item(category="open_qa"), [_similarity_result(sims)], HrefOptions())
    assert (verdict.outcome, verdict.score, verdict.bpde, verdict.unscored) == (outcome, score, 0.0, False)
    assert verdict.position_inconsistent is False
    assert verdict.details["method"] == "embedding" and verdict.details["category"] == "open_qa"
    assert verdict.details["similarities"] == sims


def test_combine_embedding_from_stored_results_and_failures():
    item = make_item(category="Fact Checking")
    stored = CallResult("similarity", 0, "b", None, "[0.25, 0.75]")  # as reloaded from the database
    verdict = PROTOCOL.combine(item, [stored], HrefOptions())
    assert verdict.outcome == "b" and verdict.details["similarities"] == [0.25, 0.75]
    for results in ([], [_similarity_result([0.9, 0.2], error="embedding failed")],
                    [CallResult("similarity", 0, None, None, "", "engine down")]):
        failed = PROTOCOL.combine(item, results, HrefOptions())
        assert failed.unscored and failed.outcome is None and failed.score is None
        assert failed.details["method"] == "embedding"


def test_combine_judged_uses_only_the_planned_orders():
    stray = _results(("ab", 0, "1", None), ("ba", 0, "1", None)) + [CallResult("similarity", 0, "b", None, "[0.1, 0.9]")]
    verdict = PROTOCOL.combine(make_item(), stray, HrefOptions(orders="single"))
    assert (verdict.outcome, verdict.score, verdict.position_inconsistent) == ("a", 1.0, False)
    assert [c["order"] for c in verdict.details["calls"]] == ["ab"]


def test_combine_without_a_method_is_unscored():
    options = HrefOptions(default_method=None)
    verdict = PROTOCOL.combine(make_item(category="Coding"), [], options)
    assert verdict.unscored and verdict.details["method"] is None and verdict.details["category"] == "Coding"


def _summary_fixture():
    specs = [
        # (category, human_label, calls or similarities)
        ("Generation", "a", [("ab", 0, "1", None), ("ba", 0, "2", None)]),          # a 1.0
        ("generation", "b", [("ab", 0, "1", None), ("ba", 0, "1", None)]),          # tie 0.5 (inconsistent)
        ("GENERATION", None, [("ab", 0, "2", None), ("ba", 0, "1", None)]),         # b 0.0
        ("Brainstorm", "a", [("ab", 0, "1", None), ("ba", 0, "2", None)]),          # a 1.0
        ("Brainstorm", None, [("ab", 0, None, None), ("ba", 0, None, None)]),       # unscored
        ("Open QA", "a", [0.8, 0.3]),                                               # a 1.0
        ("open_qa", "b", [0.2, 0.6]),                                               # b 0.0
        ("Open QA", None, [0.9, 0.1]),                                              # a 1.0
    ]
    items, verdicts = [], []
    options = HrefOptions(seed=3)
    for index, (category, human, calls) in enumerate(specs):
        item = make_item(id=f"i{index}", category=category, human_label=human)
        results = [_similarity_result(calls)] if isinstance(calls[0], float) else _results(*calls)
        items.append(item)
        verdicts.append(PROTOCOL.combine(item, results, options))
    return items, verdicts, options


def test_summary_overall_and_per_category():
    items, verdicts, options = _summary_fixture()
    summary, reliability = PROTOCOL.summarize(items, verdicts, options)
    overall = [1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert summary["metric"] == "win_rate"
    assert summary["win_rate"] == pytest.approx(4.5 / 7)
    assert summary["win_rate_ci95"] == pytest.approx(bootstrap_mean_ci(overall, seed=3))
    assert (summary["wins"], summary["losses"], summary["ties"]) == (4, 2, 1)
    assert (summary["n_items"], summary["n_scored"], summary["n_unscored"]) == (8, 7, 1)
    per = summary["per_category"]
    assert set(per) == {"Generation", "Brainstorm", "Open QA"}  # spellings of one category merged
    assert per["Generation"] == {"n": 3, "n_unscored": 0, "n_failed": 0, "win_rate": pytest.approx(0.5),
                                 "win_rate_ci95": pytest.approx(bootstrap_mean_ci([1.0, 0.5, 0.0], seed=3)),
                                 "method": "judge_with_reference"}
    assert per["Brainstorm"] == {"n": 1, "n_unscored": 1, "n_failed": 0, "win_rate": 1.0, "win_rate_ci95": (1.0, 1.0),
                                 "method": "judge"}
    assert per["Open QA"]["n"] == 3 and per["Open QA"]["win_rate"] == pytest.approx(2 / 3)
    assert per["Open QA"]["method"] == "embedding"
    low, high = per["Open QA"]["win_rate_ci95"]
    assert 0.0 <= low < 2 / 3 < high <= 1.0
    # reliability: judged items only (5), one of four judged-and-scored items position-inconsistent
    assert reliability["n_judged_items"] == 5 and reliability["n_embedding_items"] == 3
    assert reliability["embedding_share"] == pytest.approx(3 / 8)
    assert reliability["embedding_unscored_rate"] == 0.0
    assert reliability["position_consistency_rate"] == pytest.approx(3 / 4)
    assert reliability["unscored_rate"] == pytest.approx(1 / 5)
    assert reliability["first_position_win_rate"] == pytest.approx(5 / 8)


def test_summary_human_agreement():
    items, verdicts, options = _summary_fixture()
    summary, _ = PROTOCOL.summarize(items, verdicts, options)
    # human labels on items 0,1,3,5,6: judge says a, tie, a, a, b -> 4 of 5 agree (item 1: human b, judge tie)
    assert summary["n_human_labelled"] == 5 and summary["judge_accuracy"] == pytest.approx(4 / 5)
    # Scott's pi: pooled a 6/10, b 3/10, tie 1/10 -> pe = 0.46 -> (0.8 - 0.46) / 0.54 = 17/27
    assert summary["judge_scott_pi"] == pytest.approx(17 / 27)
    per_order = summary["human_agreement"]["per_order"]
    assert per_order["similarity"]["n"] == 2 and per_order["similarity"]["accuracy"] == 1.0
    assert per_order["ab"]["n"] == 3 and per_order["ab"]["accuracy"] == pytest.approx(2 / 3)  # ab: a, a(first), a


def _lc_fixture():
    """14 judged and embedding items whose candidate mostly wins when longer, plus an unscored and a failed one."""
    items, verdicts = [], []
    options = HrefOptions(seed=5)
    for index in range(14):
        response, baseline = "r" * (10 + 7 * index), "b" * (40 + (index % 3) * 11)
        longer = len(response) > len(baseline)
        category = "Open QA" if index % 4 == 0 else "Generation"
        if category == "Open QA":
            results = [_similarity_result([0.9, 0.2] if longer else [0.2, 0.9])]
        else:
            p_first = 0.8 if longer != (index % 5 == 0) else 0.3  # every fifth goes against length
            probs = {"1": p_first, "2": 0.9 - p_first, "tie": 0.1}
            mirrored = {"1": probs["2"], "2": probs["1"], "tie": 0.1}
            results = _results(("ab", 0, "1", probs), ("ba", 0, "2", mirrored))
        item = make_item(id=f"lc{index}", category=category, response=response, baseline_response=baseline)
        items.append(item)
        verdicts.append(PROTOCOL.combine(item, results, options))
    items += [make_item(id="unscored", response="x" * 500), make_item(id="failed", response="y" * 900)]
    verdicts += [PROTOCOL.combine(items[-2], _results(("ab", 0, None, None), ("ba", 0, None, None)), options),
                 ItemVerdict(outcome=None, score=None, unscored=False, failed=True, details={"errors": ["boom"]})]
    return items, verdicts, options


def test_summary_has_the_length_controlled_win_rate_of_the_scored_items():
    """As pairwise: logit P(win) = theta + phi tanh(d / sd(d)), d = len(response) - len(baseline), scored items only."""
    items, verdicts, options = _lc_fixture()
    summary, _ = PROTOCOL.summarize(items, verdicts, options)
    scored = [(v.score, len(i.response) - len(i.baseline_response)) for i, v in zip(items, verdicts) if v.scored]
    assert len(scored) == 14 and len({p for p, _ in scored}) > 2  # soft labels, not all 0/1
    preferences, differences = [p for p, _ in scored], [d for _, d in scored]
    expected = length_controlled_win_rate(preferences, differences).lc_win_rate
    assert summary["lc_win_rate"] == pytest.approx(expected) and summary["lc_note"] is None
    # the candidate wins mostly by being longer: controlling for length pulls its win rate down
    assert summary["lc_win_rate"] < summary["win_rate"]
    interval = bootstrap_lc_interval(preferences, differences, seed=5, n_resamples=SUMMARY_BOOTSTRAP_RESAMPLES)
    assert summary["lc_win_rate_ci95"] == pytest.approx(interval)
    # the same items and verdicts as pairwise (A = response, B = baseline) give the same columns
    pairwise_items = [PairwiseItem(id=i.id, prompt=i.prompt, response_a=i.response, response_b=i.baseline_response)
                      for i in items]
    pairwise_summary, _ = PairwiseProtocol().summarize(pairwise_items, verdicts, PairwiseOptions(seed=5))
    for field in ("lc_win_rate", "lc_win_rate_ci95", "lc_note"):
        assert summary[field] == pairwise_summary[field]


def test_too_few_items_for_the_length_controlled_win_rate_say_why():
    items, verdicts, options = _summary_fixture()  # 7 scored items
    summary, _ = PROTOCOL.summarize(items, verdicts, options)
    assert summary["lc_win_rate"] is None and summary["lc_win_rate_ci95"] is None
    assert summary["lc_note"] == "needs at least 10 items, got 7"


def test_summary_without_items_or_scores():
    summary, reliability = PROTOCOL.summarize([], [], HrefOptions())
    assert summary["win_rate"] is None and summary["win_rate_ci95"] is None and summary["per_category"] == {}
    assert reliability["embedding_share"] is None


@pytest.mark.parametrize("label, score", [("a", 1.0), ("b", 0.0), ("tie", 0.5)])
def test_apply_review_replaces_the_outcome_and_keeps_the_judge(label, score):
    items, verdicts, options = _summary_fixture()
    reviewed = PROTOCOL.apply_review(items[1], verdicts[1], HrefReview(label=label))
    assert (reviewed.outcome, reviewed.score, reviewed.reviewed, reviewed.unscored) == (label, score, True, False)
    assert reviewed.details["judge"] == {"outcome": "tie", "score": 0.5, "unscored": False}
    assert reviewed.details["human"] == {"label": label} and reviewed.details["method"] == "judge_with_reference"


def test_review_counts_in_metrics_but_not_in_the_judges_agreement():
    items, verdicts, options = _summary_fixture()
    verdicts[4] = PROTOCOL.apply_review(items[4], verdicts[4], HrefReview(label="b"))  # the unscored one
    summary, reliability = PROTOCOL.summarize(items, verdicts, options)
    assert summary["n_unscored"] == 0 and summary["losses"] == 3
    assert summary["per_category"]["Brainstorm"]["win_rate"] == pytest.approx(0.5)
    assert reliability["unscored_rate"] == pytest.approx(1 / 5) and reliability["n_reviewed"] == 1


@pytest.mark.parametrize("label", [{"label": "c"}, {"label": "a", "note": "x"}, {}])
def test_invalid_review(label):
    with pytest.raises(ValidationError):
        HrefReview(**label)


@pytest.mark.parametrize(
    "fields, field",
    [({"category": None}, "category"), ({"category": ""}, "category"), ({"human_reference": None}, "human_reference"),
     ({"baseline_response": None}, "baseline_response"), ({"response": None}, "response"),
     ({"prompt": None}, "prompt"), ({"id": ""}, "id"), ({"human_label": "c"}, "human_label"),
     ({"reference": "x"}, "reference")],
)
def test_invalid_items(fields, field):
    raw = {"id": "i1", "prompt": "p", "category": "c", "response": "a", "baseline_response": "b", "human_reference": "r"}
    raw.update(fields)
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ValidationError) as info:
        HrefItem(**raw)
    assert info.value.errors()[0]["loc"][0] == field


SUITE_ITEM = {"id": "s1", "prompt": "q", "category": "Open QA", "baseline_response": "base", "human_reference": "ref"}


def test_from_suite_builds_the_item():
    built = PROTOCOL.from_suite(SUITE_ITEM, {"id": "x", "response": "mine", "human_label": "a"})
    assert built == {"id": "x", "prompt": "q", "category": "Open QA", "response": "mine",
                     "baseline_response": "base", "human_reference": "ref", "human_label": "a"}
    HrefItem(**built)
    turns = {k: v for k, v in SUITE_ITEM.items() if k != "prompt"} | {"turns": ["only turn"]}
    assert PROTOCOL.from_suite(turns, {"id": "x", "response": "m"})["prompt"] == "only turn"


@pytest.mark.parametrize(
    "suite_item, submitted, message",
    [
        (SUITE_ITEM, {"id": "x", "response": "m", "prompt": "other"}, "carries only"),
        (SUITE_ITEM, {"id": "x", "response": "m", "baseline_response": "b"}, "carries only"),
        (SUITE_ITEM, {"id": "x"}, "missing 'response'"),
        ({**SUITE_ITEM, "prompt": None, "turns": ["a", "b"]}, {"id": "x", "response": "m"}, "several turns"),
        ({**SUITE_ITEM, "prompt": None}, {"id": "x", "response": "m"}, "no 'prompt'"),
        ({k: v for k, v in SUITE_ITEM.items() if k != "category"}, {"id": "x", "response": "m"}, "no 'category'"),
        ({**SUITE_ITEM, "baseline_response": None}, {"id": "x", "response": "m"}, "no 'baseline_response'"),
        ({k: v for k, v in SUITE_ITEM.items() if k != "human_reference"}, {"id": "x", "response": "m"},
         "no 'human_reference'"),
    ],
)
def test_from_suite_refuses_what_does_not_fit(suite_item, submitted, message):
    with pytest.raises(ValueError, match=message):
        PROTOCOL.from_suite(suite_item, submitted)
