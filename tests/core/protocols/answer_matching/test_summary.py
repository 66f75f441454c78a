"""AnswerMatchingSummary and AnswerMatchingReliability: exactly what AnswerMatchingProtocol.summarize returns."""

import pytest

from service.core.protocol import CallResult
from service.core.protocols.answer_matching.models import (
    AnswerMatchingItem,
    AnswerMatchingOptions,
    AnswerMatchingReview,
)
from service.core.protocols.answer_matching.protocol import AnswerMatchingProtocol
from service.core.protocols.answer_matching.summary import (
    AnswerMatchingReliability,
    AnswerMatchingSummary,
)
from service.core.report_models import undeclared_keys
from tests.core.test_report_models import (
    summarize_fixtures,
    FAILED_BEFORE_COMBINING,
    add_key,
    assert_exact,
    assert_fixtures_cover,
    failed,
)

PROTOCOL = AnswerMatchingProtocol()
MODELS = {"summary": AnswerMatchingSummary, "reliability": AnswerMatchingReliability}
YES, NO, BAD = ("yes", {"yes": 0.8, "no": 0.2}), ("no", {"yes": 0.1, "no": 0.9}), (None, None)


def item(n, response="I am not sure.", human_label=None, **fields):
    return AnswerMatchingItem(id=f"i{n}", question="What is 6 times 7?", response=response,
                              reference_answers=["42"], human_label=human_label, **fields)


def verdict(it, options, *calls, error=None):
    results = [CallResult("single", s, label, probs, label or "", error) for s, (label, probs) in enumerate(calls)]
    return PROTOCOL.combine(it, results, options)


def review(it, v, label):
    return PROTOCOL.apply_review(it, v, AnswerMatchingReview(label=label))


def rule_and_judge_matches_labels_reviews_unscored_and_failed():
    """Text and numeric rule matches, k = 3 judge samples, human labels, reviews, unscored and failed items."""
    options = AnswerMatchingOptions(samples=3, temperature=0.7)
    items = [item(0, "The answer is 42.", "match"), item(1, "It is 42.0", "match", answer_type="numeric"),
             item(2, "forty-two", "match"), item(3, "41", "no_match"), item(4, "six sevens", "no_match"),
             item(5, "hmm", "match"), item(6, "?"), item(7, "!", "no_match"), item(8, "x")]
    verdicts = [
        verdict(items[0], options), verdict(items[1], options),
        verdict(items[2], options, YES, YES, NO), verdict(items[3], options, NO, NO, NO),
        verdict(items[4], options, YES, ("yes", None), BAD), verdict(items[5], options, BAD, BAD, BAD),
        verdict(items[6], options, BAD, BAD, BAD),
        failed(verdict(items[7], options, BAD, BAD, BAD, error="engine error")), FAILED_BEFORE_COMBINING,
    ]
    assert [v.details.get("method") for v in verdicts[:3]] == ["rule", "rule", "judge"]
    verdicts[4] = review(items[4], verdicts[4], "no_match")
    verdicts[5] = review(items[5], verdicts[5], "match")
    return items, verdicts, options


def judge_only_without_labels():
    options = AnswerMatchingOptions()
    items = [item(n) for n in range(3)]
    return items, [verdict(items[0], options, YES), verdict(items[1], options, NO),
                   verdict(items[2], options, BAD)], options


def labels_only_on_unscored_items():
    options = AnswerMatchingOptions()
    items = [item(0, human_label="match"), item(1, "42")]
    return items, [verdict(items[0], options, BAD), verdict(items[1], options)], options


def one_label_everywhere():
    """Every label is "match": Scott's pi is undefined."""
    options = AnswerMatchingOptions()
    items = [item(n, "42", "match") for n in range(3)]
    return items, [verdict(it, options) for it in items], options


def nothing():
    return [], [], AnswerMatchingOptions()


FIXTURES = {f.__name__: f for f in (rule_and_judge_matches_labels_reviews_unscored_and_failed,
                                     judge_only_without_labels, labels_only_on_unscored_items, one_label_everywhere,
                                     nothing)}


@pytest.fixture(scope="module")
def reports():
    return summarize_fixtures(PROTOCOL, FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_summary_and_reliability_match_their_models_exactly(reports, name):
    for part, model in MODELS.items():
        assert_exact(model, reports[name][part])


def test_the_fixtures_reach_every_branch(reports):
    main = reports["rule_and_judge_matches_labels_reviews_unscored_and_failed"]
    summary = main["summary"]
    assert (summary["n_rule"], summary["n_failed"], summary["n_unscored"]) == (2, 2, 1)
    assert summary["n_judge"] == 6  # the failed item combined from its calls is a judge item, the other in neither
    assert main["reliability"]["n_reviewed"] == 2 and "human_agreement" in summary
    assert "human_agreement" not in reports["judge_only_without_labels"]["summary"]
    assert_fixtures_cover(MODELS, list(reports.values()), never_null={
        "Agreement.cohen_kappa": "agreement() has pairs, and one shared label gives kappa 1.0 (not null, unlike pi)",
    })


@pytest.mark.parametrize("part, path, found", [
    ("summary", (), "surprise"),
    ("summary", ("human_agreement",), "human_agreement.surprise"),
    ("summary", ("human_agreement", "calibrated"), "human_agreement.calibrated.surprise"),
    ("reliability", (), "surprise"),
    ("reliability", ("bpde_histogram", 4), "bpde_histogram[4].surprise"),
])
def test_a_key_the_models_do_not_declare_is_caught(reports, part, path, found):
    report = add_key(reports["rule_and_judge_matches_labels_reviews_unscored_and_failed"][part], path)
    MODELS[part].model_validate(report)
    assert undeclared_keys(MODELS[part], report) == [found]
    with pytest.raises(AssertionError):
        assert_exact(MODELS[part], report)


def test_models_have_json_schemas():
    schema = AnswerMatchingSummary.model_json_schema()
    assert "judge_accuracy" not in schema["required"] and "accuracy_ci95" in schema["required"]
    assert "rule_decided_rate" in AnswerMatchingReliability.model_json_schema()["required"]
