"""The answer_matching protocol: rule pre-check, judge prompt, parser, combiner, metrics, review, suites."""

import math
import random

import pytest
from pydantic import ValidationError

from service.core.protocols.answer_matching.protocol import (
    LABELS, RATIONALE_QUESTION, TEMPLATE, VERDICT_QUESTION, AnswerMatchingItem, AnswerMatchingOptions,
    AnswerMatchingProtocol, AnswerMatchingReview, normalize_answer, rule_match,
)
from service.core.protocols.answer_matching.quantities import read_quantity
from service.core.judging import JudgeOutput
from service.core.protocol import CallResult, get_protocol

PROTOCOL = AnswerMatchingProtocol()
Z95 = 1.959963984540054  # standard normal 97.5% quantile


def make_item(**overrides) -> AnswerMatchingItem:
    fields = {"id": "i1", "question": "What is 6 times 7?", "response": "I am not sure.",
              "reference_answers": ["42"]}
    fields.update(overrides)
    return AnswerMatchingItem(**fields)


def test_registered_by_name():
    assert get_protocol("answer_matching").name == "answer_matching"
    assert TEMPLATE == "answer_matching/1"


# ---------------------------------------------------------------- rule pre-check

@pytest.mark.parametrize("text, expected", [
    ("Paris", "paris"),
    ("  The   Eiffel Tower. ", "eiffel tower"),
    ("An apple, a pear!", "apple pear"),
    ("PARIS!!!", "paris"),
    ("U.S.A.", "usa"),
    ("Straße", "strasse"),            # casefold, not lower
    ("«Paris»", "paris"),             # unicode punctuation
    ("1,000", "1000"),                # thousands comma dropped
    ("3.14", "3.14"),                 # decimal point kept: 3.14 is not 314
    ("-5", "-5"),                     # minus kept: -5 is not 5
    ("1/2", "1/2"),                   # fraction bar kept: 1/2 is not 12
    ("50%", "50%"),
    ("theatre", "theatre"),           # articles only as whole words
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


@pytest.mark.parametrize("response, references, matched", [
    ("Paris", ["Paris"], True),
    ("paris.", ["Paris"], True),
    ("The Eiffel Tower", ["eiffel tower"], True),
    ("The answer is 42.", ["42"], True),
    ("Answer: Paris", ["Lyon", "Paris"], True),            # any reference
    ("Let me think. Final answer: the Beatles!", ["Beatles"], True),
    ("Working... so $\\boxed{17}$", ["17"], True),
    ("My answer: Lyon? No. Final answer: Paris", ["Paris"], True),   # the last marker counts
    ("The answer is: **Paris**", ["Paris"], True),
    # mentions the reference among others, final answer differs: never a rule match
    ("It could be Paris, Lyon or Marseille. The answer is Lyon.", ["Paris"], False),
    ("Paris or Lyon", ["Paris"], False),
    ("The answer is Paris. Wait, no: the answer is Lyon.", ["Paris"], False),
    ("The answer is not Paris.", ["Paris"], False),
    ("Paris is the capital of France", ["Paris"], False),  # correct, but only the judge may say so
    ("314", ["3.14"], False),
    ("5", ["-5"], False),
    ("", ["the"], False),                                  # an answer that normalises to nothing never matches
])
def test_text_rule(response, references, matched):
    item = make_item(response=response, reference_answers=references)
    assert (rule_match(item) is not None) is matched


@pytest.mark.parametrize("text, value, percent", [
    ("42", 42.0, False),
    ("The total is 1,234,567 dollars", 1234567.0, False),
    ("-3.5", -3.5, False),
    ("x = \u22127", -7.0, False),
    ("+8", 8.0, False),
    (".5", 0.5, False),
    ("3/4", 0.75, False),
    ("-3/4", -0.75, False),
    ("1 1/2 cups", 1.5, False),
    ("50%", 50.0, True),
    ("12.5 percent", 12.5, True),
    ("1e6", 1e6, False),
    ("$1,234.50", 1234.5, False),
    # several numbers: which one is the answer is a guess (the last was read before), so none is read
    ("first 10, then 12, finally 7", None, None),
    ("The answer is 42. Check: 6 * 7", None, None),     # (the last number 7 was read, flagged an operand)
    ("6 times 7. The answer is forty-two.", None, None),  # only numbers after the last answer marker count
    ("Answer: 41. No wait, the answer is forty-two.", None, None),
    ("The answer is **42**", 42.0, False),
    ("no numbers here", None, None),
    ("H2O", None, None),
    ("3/0", None, None),
])
def test_read_quantity(text, value, percent):
    quantity = read_quantity(text)
    if value is None:
        assert quantity is None
    else:
        assert quantity.value == pytest.approx(value) and quantity.percent is percent


@pytest.mark.parametrize("text", ["2^10", "6*7", "5 - 3", "6 * 7 = 42"])
def test_expressions_are_not_a_stated_quantity(text):
    # an operand of an unevaluated expression is not a stated value (these were read and flagged as operands)
    assert read_quantity(text) is None


def test_a_signed_value_after_an_equals_sign_is_stated():
    assert read_quantity("x = -3").value == -3.0


@pytest.mark.parametrize("response, references, tolerance, matched", [
    ("42", ["42"], 1e-6, True),
    ("The answer is 42.", ["42"], 1e-6, True),
    ("The answer is **42**.", ["42"], 1e-6, True),   # markdown bold is not multiplication
    ("42.00000001", ["42"], 1e-6, True),          # within relative tolerance
    ("42.001", ["42"], 1e-6, False),              # outside
    ("42.001", ["42"], 1e-4, True),               # inside a looser tolerance
    ("105", ["100"], 0.05, True),
    ("106", ["100"], 0.05, False),
    ("0", ["0"], 1e-6, True),
    ("0.0000001", ["0"], 1e-6, False),            # relative tolerance of zero is exact
    ("1,000", ["1000"], 1e-6, True),
    ("-12", ["-12"], 1e-6, True),
    ("12", ["-12"], 1e-6, False),
    ("3/4", ["0.75"], 1e-6, True),
    ("0.75", ["3/4"], 1e-6, True),
    ("1 1/2", ["0.5"], 1e-6, False),              # a mixed number is not its fraction part
    ("1 1/2", ["1.5"], 1e-6, True),
    ("25%", ["0.25"], 1e-6, True),
    ("25%", ["25"], 1e-6, False),              # a bare 25 may or may not mean 25%: the judge decides
    ("25 percent", ["25%"], 1e-6, True),
    ("0.25", ["25%"], 1e-6, True),
    ("26%", ["0.25"], 1e-6, False),
    ("It is 41, 42 or 43; I pick 43.", ["42"], 1e-6, False),   # the reference mentioned, final answer differs
    ("First I got 42, but the answer is 40.", ["42"], 1e-6, False),
    ("The answer is 2^10", ["2"], 1e-6, False),   # an expression, not a stated value
    ("6 * 7", ["7"], 1e-6, False),
    ("forty-two", ["42"], 1e-6, False),            # no number: the judge decides
    ("42", ["forty-two"], 1e-6, False),
    ("The answer is 7", ["seven", "7.0"], 1e-6, True),
])
def test_numeric_rule(response, references, tolerance, matched):
    item = make_item(response=response, reference_answers=references, answer_type="numeric", tolerance=tolerance)
    assert (rule_match(item) is not None) is matched


def test_numeric_items_do_not_use_text_normalisation():
    # SQuAD normalisation alone would turn "3.14" into "314"; a numeric item compares values
    assert rule_match(make_item(response="314", reference_answers=["3.14"], answer_type="numeric")) is None


# ---------------------------------------------------------------- planning and prompts

def test_a_rule_match_plans_no_call_and_combines_alone():
    item = make_item(response="The answer is 42.")
    assert PROTOCOL.plan_calls(item, AnswerMatchingOptions(samples=3)) == []
    verdict = PROTOCOL.combine(item, [], AnswerMatchingOptions())
    assert (verdict.outcome, verdict.score, verdict.unscored) == ("match", 1.0, False)
    assert verdict.details["method"] == "rule" and verdict.details["p_match"] == 1.0
    assert verdict.details["calls"] == [] and verdict.details["rule"]["reference"] == "42"


def test_prompt_has_question_references_and_response_in_delimiters_response_last():
    item = make_item(response="It is 41.", reference_answers=["42", "forty-two"])
    calls = PROTOCOL.plan_calls(item, AnswerMatchingOptions())
    assert len(calls) == 1
    request = calls[0].request
    assert request.choices == LABELS == ("yes", "no") and request.template == TEMPLATE
    content = request.messages[-1]["content"]
    assert content.index("[Question]\nWhat is 6 times 7?") < content.index("[Reference answer 1]\n42") \
        < content.index("[Reference answer 2]\nforty-two") < content.index("[Response]\nIt is 41.\n[End of response]")
    assert content.rstrip().endswith(VERDICT_QUESTION)
    for label in LABELS:
        assert f'"{label}"' in VERDICT_QUESTION
    # the shared text (everything before the response) does not depend on the response
    other = PROTOCOL.plan_calls(make_item(response="Maybe 40", reference_answers=["42", "forty-two"]),
                                AnswerMatchingOptions())[0].request.messages[-1]["content"]
    prefix = content.split("[Response]")[0]
    assert other.startswith(prefix)
    assert "option" not in content.lower()  # never multiple-choice options


def test_single_reference_and_numeric_prompt():
    item = make_item(response="about 41", answer_type="numeric", tolerance=0.01)
    content = PROTOCOL.plan_calls(item, AnswerMatchingOptions())[0].request.messages[-1]["content"]
    assert "[Reference answer]\n42" in content and "[Reference answer 1]" not in content
    assert "relative tolerance of 0.01" in content


def test_mec_plans_k_samples_with_distinct_seeds():
    options = AnswerMatchingOptions(samples=3, temperature=0.8, seed=11)
    calls = PROTOCOL.plan_calls(make_item(), options)
    assert [(c.order, c.sample) for c in calls] == [("single", 0), ("single", 1), ("single", 2)]
    assert len({c.request.seed for c in calls}) == 3 and all(c.request.temperature == 0.8 for c in calls)
    assert calls == PROTOCOL.plan_calls(make_item(), options)


def test_rationale_mode_asks_for_reasoning_then_verdict():
    call = PROTOCOL.plan_calls(make_item(), AnswerMatchingOptions(verdict_mode="rationale", rationale_tokens=64))[0]
    assert call.request.rationale_tokens == 64
    assert call.request.messages[-1]["content"].endswith(RATIONALE_QUESTION)
    assert call.request.verdict_followup == VERDICT_QUESTION


# ---------------------------------------------------------------- parse and combine

@pytest.mark.parametrize("output, label, p_yes", [
    (JudgeOutput(text="yes", verdict_top_logprobs={"yes": math.log(0.8), "no": math.log(0.2)}), "yes", 0.8),
    (JudgeOutput(text="no", verdict_top_logprobs={"Yes": math.log(0.3), "No": math.log(0.6), "x": -1.0}), "no", 1 / 3),
    (JudgeOutput(text="", verdict_top_logprobs={"y": math.log(0.9), "n": math.log(0.1)}), "yes", 0.9),
    (JudgeOutput(text="No."), "no", None),
    (JudgeOutput(text="maybe"), None, None),
    (JudgeOutput(text="", verdict_top_logprobs={"yes": 0.0}, error="boom"), None, None),
])
def test_parse(output, label, p_yes):
    call = PROTOCOL.plan_calls(make_item(), AnswerMatchingOptions())[0]
    result = PROTOCOL.parse(call, output, AnswerMatchingOptions())
    assert result.label == label and (result.order, result.sample) == ("single", 0)
    if p_yes is None:
        assert result.label_probs is None
    else:
        assert result.label_probs["yes"] == pytest.approx(p_yes)


def _results(*calls):
    return [CallResult("single", i, label, probs, label or "", error) for i, (label, probs, error) in enumerate(calls)]


@pytest.mark.parametrize("calls, outcome, score, bpde", [
    ([("yes", None, None)], "match", 1.0, 0.0),
    ([("no", None, None)], "no_match", 0.0, 0.0),
    ([("yes", {"yes": 0.7, "no": 0.3}, None)], "match", 0.7, 0.0),
    ([("no", {"yes": 0.4, "no": 0.6}, None)], "no_match", 0.4, 0.0),
    # MEC, k = 3: P(match) averaged over the samples, BPDE over their labels
    ([("yes", {"yes": 0.9, "no": 0.1}, None), ("yes", {"yes": 0.6, "no": 0.4}, None),
      ("no", {"yes": 0.3, "no": 0.7}, None)], "match", 0.6, -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))),
    ([("yes", None, None), ("no", None, None), ("no", None, None)], "no_match", 1 / 3,
     -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))),
    ([("yes", None, None), ("yes", None, None), ("yes", None, None)], "match", 1.0, 0.0),   # all agree: 0
    ([("yes", None, None), ("no", None, None)], "no_match", 0.5, math.log(2)),               # ½ is not a match
    # unparseable and failed calls are left out, not counted as "no"
    ([("yes", {"yes": 0.8, "no": 0.2}, None), (None, None, None), (None, None, "engine down")], "match", 0.8, 0.0),
    ([("yes", {"yes": 0.8, "no": 0.2}, "late error")], None, None, None),
])
def test_combine_judge_calls(calls, outcome, score, bpde):
    verdict = PROTOCOL.combine(make_item(), _results(*calls), AnswerMatchingOptions())
    assert verdict.outcome == outcome
    assert verdict.details["method"] == "judge"
    if score is None:
        assert verdict.unscored and verdict.score is None and verdict.details["p_match"] is None
    else:
        assert not verdict.unscored
        assert verdict.score == pytest.approx(score) and verdict.details["p_match"] == pytest.approx(score)
        assert verdict.bpde == pytest.approx(bpde)
    assert len(verdict.details["calls"]) == len(calls)


def test_no_label_at_all_is_unscored():
    verdict = PROTOCOL.combine(make_item(), _results((None, None, None), (None, None, None)), AnswerMatchingOptions())
    assert verdict.unscored and verdict.outcome is None and verdict.bpde is None
    assert PROTOCOL.combine(make_item(), [], AnswerMatchingOptions()).unscored


def test_mec_k3_with_a_simulated_judge_averages_probabilities():
    """A judge with P(yes) = 0.7 sampled 3 times per item: P(match) is 0.7, labels vary by seed."""
    options = AnswerMatchingOptions(samples=3, temperature=0.7, seed=3)
    bpdes = []
    for n in range(20):
        item = make_item(id=f"i{n}")
        results = []
        for call in PROTOCOL.plan_calls(item, options):
            label = "yes" if random.Random(call.request.seed).random() < 0.7 else "no"
            output = JudgeOutput(text=label, verdict_top_logprobs={"yes": math.log(0.7), "no": math.log(0.3)})
            results.append(PROTOCOL.parse(call, output, options))
        verdict = PROTOCOL.combine(item, results, options)
        assert verdict.score == pytest.approx(0.7) and verdict.outcome == "match"
        bpdes.append(verdict.bpde)
    assert set(round(b, 6) for b in bpdes) <= {0.0, round(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)), 6)}
    assert max(bpdes) > 0  # some items' samples disagree


def test_mec_with_the_scripted_judge_backend():
    from service.config import JudgeConfig
    from workers.backends.scripted import ScriptedBackend

    backend = ScriptedBackend(JudgeConfig(name="scripted", backend="scripted"))
    options = AnswerMatchingOptions(samples=3, temperature=0.7, seed=1)
    item = make_item(response="<<scripted:yes=0.25,no=0.75>> maybe 41")
    calls = PROTOCOL.plan_calls(item, options)
    outputs = backend.generate([c.request for c in calls])
    verdict = PROTOCOL.combine(item, [PROTOCOL.parse(c, o, options) for c, o in zip(calls, outputs)], options)
    assert len(calls) == 3 and verdict.score == pytest.approx(0.25) and verdict.outcome == "no_match"


# ---------------------------------------------------------------- review, metrics, agreement

@pytest.mark.parametrize("label, outcome, score", [("match", "match", 1.0), ("no_match", "no_match", 0.0)])
def test_apply_review(label, outcome, score):
    judged = PROTOCOL.combine(make_item(), _results(("yes", {"yes": 0.6, "no": 0.4}, None)), AnswerMatchingOptions())
    reviewed = PROTOCOL.apply_review(make_item(), judged, AnswerMatchingReview(label=label))
    assert (reviewed.outcome, reviewed.score, reviewed.reviewed, reviewed.unscored) == (outcome, score, True, False)
    assert reviewed.details["judge"] == {"outcome": "match", "score": pytest.approx(0.6), "unscored": False}
    assert reviewed.details["human"] == {"label": label} and reviewed.details["method"] == "judge"


def test_review_label_is_validated():
    with pytest.raises(ValidationError):
        AnswerMatchingReview(label="yes")


def wilson_by_quadratic(successes, n, z=Z95):
    """Wilson bounds as the roots of (p̂ − p)² = z²·p(1 − p)/n (an independent derivation)."""
    phat = successes / n
    a, b, c = 1 + z * z / n, -(2 * phat + z * z / n), phat * phat
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def _verdicts(specs, options=AnswerMatchingOptions()):
    """specs: (response, human_label, judge calls) per item; calls as for ``_results``."""
    items, verdicts = [], []
    for n, (response, human, calls) in enumerate(specs):
        item = make_item(id=f"i{n}", response=response, human_label=human)
        items.append(item)
        verdicts.append(PROTOCOL.combine(item, _results(*calls), options))
    return items, verdicts


YES_CALL, NO_CALL, BAD_CALL = ("yes", {"yes": 0.8, "no": 0.2}, None), ("no", {"yes": 0.1, "no": 0.9}, None), \
    (None, None, None)


def test_summary_accuracy_wilson_and_unscored_apart():
    specs = [("42", None, [])] * 3 + [("maybe", None, [YES_CALL])] * 5 + [("maybe", None, [NO_CALL])] * 2 \
        + [("maybe", None, [BAD_CALL])] * 4
    items, verdicts = _verdicts(specs)
    summary, reliability = PROTOCOL.summarize(items, verdicts, AnswerMatchingOptions())
    assert summary["metric"] == "accuracy"
    assert (summary["n_items"], summary["n_scored"], summary["n_unscored"]) == (14, 10, 4)
    assert summary["accuracy"] == pytest.approx(8 / 10)   # the 4 unscored are not counted as wrong
    low, high = summary["accuracy_ci95"]
    expected_low, expected_high = wilson_by_quadratic(8, 10)
    assert (low, high) == (pytest.approx(expected_low), pytest.approx(expected_high))
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)  # published Wilson interval for 8/10
    assert (summary["n_rule"], summary["n_judge"], summary["n_match"], summary["n_no_match"]) == (3, 11, 8, 2)
    assert summary["mean_p_match"] == pytest.approx((3 * 1.0 + 5 * 0.8 + 2 * 0.1) / 10)
    assert "judge_accuracy" not in summary
    assert reliability["rule_decided_rate"] == pytest.approx(3 / 14)
    assert reliability["unscored_rate"] == pytest.approx(4 / 14)
    assert reliability["n_calls_scored"] == 7


@pytest.mark.parametrize("successes, n", [(0, 5), (5, 5), (1, 3), (37, 50)])
def test_summary_wilson_matches_the_quadratic_roots(successes, n):
    specs = [("maybe", None, [YES_CALL])] * successes + [("maybe", None, [NO_CALL])] * (n - successes)
    items, verdicts = _verdicts(specs)
    summary, _ = PROTOCOL.summarize(items, verdicts, AnswerMatchingOptions())
    low, high = wilson_by_quadratic(successes, n)
    assert summary["accuracy_ci95"][0] == pytest.approx(max(0.0, low), abs=1e-12)
    assert summary["accuracy_ci95"][1] == pytest.approx(min(1.0, high), abs=1e-12)


def test_summary_of_nothing_scored():
    items, verdicts = _verdicts([("maybe", None, [BAD_CALL])])
    summary, reliability = PROTOCOL.summarize(items, verdicts, AnswerMatchingOptions())
    assert summary["accuracy"] is None and summary["accuracy_ci95"] is None and summary["n_unscored"] == 1
    assert summary["mean_p_match"] is None and reliability["unscored_rate"] == 1.0


def test_human_agreement_accuracy_and_kappa():
    # judge vs human: (m,m) (m,m) (m,n) (n,n) (n,m) (n,n); one unlabelled, one unscored with a label
    specs = [("42", "match", []), ("maybe", "match", [YES_CALL]), ("maybe", "no_match", [YES_CALL]),
             ("maybe", "no_match", [NO_CALL]), ("maybe", "match", [NO_CALL]), ("maybe", "no_match", [NO_CALL]),
             ("maybe", None, [YES_CALL]), ("maybe", "match", [BAD_CALL])]
    items, verdicts = _verdicts(specs)
    summary, _ = PROTOCOL.summarize(items, verdicts, AnswerMatchingOptions())
    # 6 pairs: observed 4/6; judge match 3/6, human match 3/6 -> expected ½ -> κ = (2/3 − ½)/(½) = 1/3
    assert summary["n_human_labelled"] == 6
    assert summary["judge_accuracy"] == pytest.approx(4 / 6)
    assert summary["judge_cohen_kappa"] == pytest.approx(1 / 3)
    # pooled shares ½ / ½ as well -> π = κ here
    assert summary["judge_scott_pi"] == pytest.approx(1 / 3)
    report = summary["human_agreement"]
    assert report["n_human_labelled"] == 7 and report["after_review"]["accuracy"] == pytest.approx(4 / 6)
    # a human review of the disagreeing item fixes "after review" but not the judge's own accuracy
    verdicts[2] = PROTOCOL.apply_review(items[2], verdicts[2], AnswerMatchingReview(label="no_match"))
    verdicts[7] = PROTOCOL.apply_review(items[7], verdicts[7], AnswerMatchingReview(label="match"))
    summary, reliability = PROTOCOL.summarize(items, verdicts, AnswerMatchingOptions())
    assert summary["judge_accuracy"] == pytest.approx(4 / 6)
    # after review, 7 pairs: observed 6/7; human 4 m / 3 n, verdicts 3 m / 4 n -> expected 24/49 -> κ = 18/25;
    # pooled 7 m / 7 n of 14 -> expected ½ -> π = (6/7 − ½) / ½ = 5/7
    assert summary["human_agreement"]["after_review"] == {"n": 7, "accuracy": pytest.approx(6 / 7),
                                                         "cohen_kappa": pytest.approx(18 / 25),
                                                         "scott_pi": pytest.approx(5 / 7)}
    assert summary["n_unscored"] == 0 and summary["accuracy"] == pytest.approx(4 / 8)
    assert reliability["n_reviewed"] == 2 and reliability["unscored_rate"] == pytest.approx(1 / 8)


# ---------------------------------------------------------------- validation and suites

@pytest.mark.parametrize("fields, loc", [
    ({"reference_answers": None}, ("reference_answers",)),
    ({"reference_answers": []}, ("reference_answers",)),
    ({"reference_answers": ["42", ""]}, ("reference_answers", 1)),
    ({"reference_answers": ["  "]}, ("reference_answers", 0)),
    ({"reference_answers": "42"}, ("reference_answers",)),
    ({"response": None}, ("response",)),
    ({"question": None}, ("question",)),
    ({"id": ""}, ("id",)),
    ({"answer_type": "choice"}, ("answer_type",)),
    ({"tolerance": -0.1}, ("tolerance",)),
    ({"tolerance": float("nan")}, ("tolerance",)),
    ({"human_label": "yes"}, ("human_label",)),
    ({"options": ["A", "B"]}, ("options",)),
])
def test_invalid_items_name_the_field(fields, loc):
    raw = {"id": "i1", "question": "q", "response": "r", "reference_answers": ["42"]}
    raw.update(fields)
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ValidationError) as info:
        AnswerMatchingItem(**raw)
    assert info.value.errors()[0]["loc"] == loc


@pytest.mark.parametrize("options, field", [
    ({"samples": 2, "temperature": 0.0}, None), ({"samples": 0}, "samples"), ({"bogus": 1}, "bogus"),
    ({"verdict_mode": "vibes"}, "verdict_mode"),
])
def test_invalid_options(options, field):
    with pytest.raises(ValidationError) as info:
        AnswerMatchingOptions(**options)
    if field:
        assert info.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize("suite_item, submitted, expected", [
    ({"prompt": "q", "reference": "r", "category": "math"}, {"id": "x", "response": "mine", "human_label": "match"},
     {"id": "x", "question": "q", "response": "mine", "reference_answers": ["r"], "category": "math",
      "human_label": "match"}),
    ({"turns": ["q1"], "reference_turns": ["r1"]}, {"id": "x", "response": "mine"},
     {"id": "x", "question": "q1", "response": "mine", "reference_answers": ["r1"]}),
])
def test_from_suite_builds_the_item(suite_item, submitted, expected):
    built = PROTOCOL.from_suite(suite_item, submitted)
    assert built == expected
    AnswerMatchingItem(**built)


@pytest.mark.parametrize("suite_item, submitted, message", [
    ({"prompt": "q", "reference": "r"}, {"id": "x", "response": "m", "reference_answers": ["s"]}, "carries only"),
    ({"prompt": "q", "reference": "r"}, {"id": "x"}, "missing 'response'"),
    ({"turns": ["a", "b"], "reference_turns": ["r", "s"]}, {"id": "x", "response": "m"}, "several turns"),
    ({"prompt": "q"}, {"id": "x", "response": "m"}, "this suite item has no reference answer"),
    ({"prompt": "q", "reference_turns": []}, {"id": "x", "response": "m"}, "no reference answer"),
])
def test_from_suite_refuses_what_does_not_fit(suite_item, submitted, message):
    with pytest.raises(ValueError, match=message):
        PROTOCOL.from_suite(suite_item, submitted)
