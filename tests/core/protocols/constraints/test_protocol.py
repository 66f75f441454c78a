"""The constraints protocol's pure parts: items in both forms, calls planned only for judge constraints, verdicts
(followed, unscored, failed), several responses, reviews, suites and a summary that matches its declared model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.core.judging import JudgeOutput
from service.core.protocol import CallResult, get_protocol
from service.core.report_models import undeclared_keys

protocol = get_protocol("constraints")
OPTIONS = protocol.options_model()
NO_COMMA = {"type": "punctuation:no_comma"}
POLITE = {"type": "judge", "text": "Is the response polite?"}


def item(**fields):
    return protocol.item_model.model_validate({"id": "i", "prompt": "Say hi.", "response": "Hi there", **fields})


def test_both_forms_make_one_list_ifevals_first():
    both = item(instruction_id_list=["detectable_format:title"], kwargs=[{}],
                constraints=[NO_COMMA, {"type": "keywords:existence", "keywords": ["hi"]}])
    assert both.specs() == [("detectable_format:title", {}), ("punctuation:no_comma", {}),
                            ("keywords:existence", {"keywords": ["hi"]})]


def test_an_ifeval_line_as_published_takes_its_key_as_id():
    line = {"key": 1001, "prompt": "P", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "response": "r"}
    assert protocol.item_model.model_validate(line).id == "1001"


def test_hugging_face_kwargs_with_null_values_are_accepted():
    """IFEval's copy on Hugging Face lists every argument name of every type, null where unused."""
    hf = item(instruction_id_list=["punctuation:no_comma", "length_constraints:number_words"],
              kwargs=[{"num_words": None, "relation": None}, {"num_words": 5, "relation": "less than", "keyword": None}])
    assert hf.specs()[1] == ("length_constraints:number_words", {"num_words": 5, "relation": "less than"})


@pytest.mark.parametrize(("fields", "loc"), [
    ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, ("kwargs",)),
    ({"instruction_id_list": ["keywords:existence"], "kwargs": [{"keywords": ["f(x"]}]}, ("kwargs", 0)),
    ({"instruction_id_list": ["length_constraints:nth_paragraph_first_word"],
      "kwargs": [{"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"}]}, ("kwargs", 0)),
    ({"constraints": [NO_COMMA, {"type": "punctuation:no_comma", "extra": 1}]}, ("constraints", 1)),
    ({"constraints": [{"type": "keywords:frequency", "keyword": "a", "frequency": True, "relation": "at least"}]},
     ("constraints", 0)),
    ({}, ("instruction_id_list",)),
    ({"constraints": [NO_COMMA], "responses": [{"model": "a", "response": "x"}]}, ("response",)),
])
def test_bad_items_name_the_field(fields, loc):
    with pytest.raises(ValidationError) as raised:
        item(**fields)
    assert [e["loc"] for e in raised.value.errors()] == [loc]


def test_programmatic_constraints_plan_no_call():
    assert protocol.plan_calls(item(constraints=[NO_COMMA]), OPTIONS) == []


def test_each_judge_constraint_of_each_response_is_one_yes_no_call_per_sample():
    several = item(response=None, constraints=[NO_COMMA, POLITE],
                   responses=[{"model": "a", "response": "Hi there"}, {"model": "b", "response": "Go away"}])
    options = protocol.options_model(samples=2)
    calls = protocol.plan_calls(several, options)
    assert [(c.order, c.sample) for c in calls] == [("judge:0:1", 0), ("judge:0:1", 1), ("judge:1:1", 0),
                                                    ("judge:1:1", 1)]
    user = calls[2].request.messages[-1]["content"]
    assert calls[2].request.choices == ("yes", "no")
    assert user.index("Say hi.") < user.index("Is the response polite?") < user.index("Go away")


def judge_result(order: str, output: JudgeOutput) -> CallResult:
    planned = next(c for c in protocol.plan_calls(item(constraints=[NO_COMMA, POLITE]), OPTIONS) if c.order == order)
    return protocol.parse(planned, output, OPTIONS)


@pytest.mark.parametrize(("output", "outcome", "unscored", "failed"), [
    (JudgeOutput(text="yes", verdict_top_logprobs={"yes": -0.1, "no": -2.4}), "followed", False, False),
    (JudgeOutput(text="no"), "not_followed", False, False),
    (JudgeOutput(text="perhaps"), None, True, False),
    (JudgeOutput(text="", error="engine error"), None, False, True),
])
def test_a_judge_constraint_is_never_silently_passed_or_failed(output, outcome, unscored, failed):
    judged = item(constraints=[NO_COMMA, POLITE])
    verdict = protocol.combine(judged, [judge_result("judge:0:1", output)], OPTIONS)
    assert (verdict.outcome, verdict.unscored, verdict.failed) == (outcome, unscored, failed)
    assert verdict.details["result"]["constraints"][0]["strict"] is True  # the program's result is kept


def test_csr_is_the_share_followed_and_the_outcome_needs_all():
    verdict = protocol.combine(item(response="Hi, there", constraints=[
        NO_COMMA, {"type": "keywords:existence", "keywords": ["there"]}]), [], OPTIONS)
    assert (verdict.outcome, verdict.score, verdict.bpde) == ("not_followed", 0.5, None)
    assert verdict.details["method"] == "program"


def test_a_review_replaces_the_prompt_level_result_only():
    verdict = protocol.combine(item(response="Hi, there", constraints=[NO_COMMA]), [], OPTIONS)
    reviewed = protocol.apply_review(item(constraints=[NO_COMMA]), verdict,
                                     protocol.review_model(label="followed"))
    assert (reviewed.outcome, reviewed.score, reviewed.reviewed) == ("followed", 0.0, True)


def test_from_suite_takes_the_prompt_from_the_suite_and_the_constraints_from_either():
    submitted = {"id": "q", "response": "r", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    full = protocol.from_suite({"prompt": "P?", "category": "c"}, submitted)
    assert full == {"id": "q", "prompt": "P?", "response": "r", "instruction_id_list": ["punctuation:no_comma"],
                    "kwargs": [{}], "category": "c"}
    stored = {"prompt": "P?", "constraints": [NO_COMMA]}
    assert protocol.from_suite(stored, {"id": "q", "response": "r"})["constraints"] == [NO_COMMA]
    with pytest.raises(ValueError, match="submit only the response"):
        protocol.from_suite(stored, submitted)
    with pytest.raises(ValueError, match="several turns"):
        protocol.from_suite({"turns": ["a", "b"]}, submitted)


def test_the_summary_is_exactly_its_declared_model():
    items = [item(response=r, constraints=[NO_COMMA, {"type": "keywords:existence", "keywords": ["hi"]}])
             for r in ("hi there", "hi, there", "bye")]
    items.append(item(response=None, constraints=[NO_COMMA],
                      responses=[{"model": "a", "response": "x y"}, {"model": "b", "response": "x, y"}]))
    verdicts = [protocol.combine(i, [], OPTIONS) for i in items]
    summary, reliability = protocol.summarize(items, verdicts, OPTIONS)
    assert undeclared_keys(protocol.summary_model, summary) == []
    assert undeclared_keys(protocol.reliability_model, reliability) == []
    protocol.summary_model.model_validate(summary)
    assert summary["prompt_level_strict_acc"] == 2 / 4 and summary["inst_level_strict_acc"] == 5 / 7
    assert summary["mean_csr"] == pytest.approx((1 + 0.5 + 0.5 + 1) / 4)
    assert summary["per_type"]["punctuation:no_comma"] == {"n": 4, "strict_acc": 0.75, "loose_acc": 0.75}
    assert summary["per_group"]["keywords"]["n"] == 3
    assert [(m["model"], m["wins"], m["losses"], m["win_rate"]) for m in summary["models"]] == [
        ("a", 1, 0, 1.0), ("b", 0, 1, 0.0)]
