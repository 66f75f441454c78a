"""RatingSummary and RatingReliability describe exactly what RatingProtocol.summarize returns."""

import typing

import pytest

from service.core.protocol import CallResult
from service.core.protocols.rating.models import (
    MAX_SCALE,
    RatingItem,
    RatingOptions,
    RatingReview,
)
from service.core.protocols.rating.protocol import ORDER, RatingProtocol, labels_for
from service.core.protocols.rating.summary import (
    RatingReliability,
    RatingSummary,
    ScoreLabel,
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

PROTOCOL = RatingProtocol()
MODELS = {"summary": RatingSummary, "reliability": RatingReliability}
RUBRIC3 = {"1": "wrong", "2": "partly right", "3": "right"}
RUBRIC9 = [f"score {n}" for n in range(1, 10)]


def item(n, human_score=None, rubric=None):
    return RatingItem(id=f"i{n}", prompt="What is 2+2?", response="4", human_score=human_score, rubric=rubric)


def verdict(it, options, *calls, error=None):
    """Calls as (label, probabilities) per sample."""
    results = [CallResult(ORDER, s, label, probs, label or "", error) for s, (label, probs) in enumerate(calls)]
    return PROTOCOL.combine(it, results, options)


def review(it, v, score):
    return PROTOCOL.apply_review(it, v, RatingReview(score=score))


def human_scores_samples_reviews_unscored_and_failed():
    """Mixed rubrics (3-point and the default 5), k = 2 samples with probabilities, human scores, a review,
    an unscored and two failed items."""
    options = RatingOptions(samples=2, temperature=0.7)
    items = [item(0, 5), item(1, 3), item(2, 2, RUBRIC3), item(3, 4), item(4, 1), item(5), item(6, 2), item(7)]
    verdicts = [
        verdict(items[0], options, ("5", None), ("4", {"4": 0.5, "5": 0.5})),
        verdict(items[1], options, ("3", None), ("3", None)),
        verdict(items[2], options, ("1", {"1": 0.5, "2": 0.5}), ("2", None)),
        verdict(items[3], options, ("4", None), ("2", None)),
        verdict(items[4], options, ("2", None), ("1", None)),
        verdict(items[5], options, (None, None), (None, None)),
        failed(verdict(items[6], options, (None, None), (None, None), error="engine error")),
        FAILED_BEFORE_COMBINING,
    ]
    verdicts[3] = review(items[3], verdicts[3], 4)
    return items, verdicts, options


def one_sample_no_human_scores():
    options = RatingOptions(seed=1)
    items = [item(n) for n in range(4)]
    return items, [verdict(it, options, (str(n + 2), None)) for n, it in enumerate(items)], options


def two_human_scores_only():
    """Fewer than 3 pairs: the correlations are null; one human score sits on an unscored item."""
    options = RatingOptions()
    items = [item(0, 4, RUBRIC9), item(1, 2), item(2, 3)]
    verdicts = [verdict(items[0], options, ("9", None)), verdict(items[1], options, ("2", None)),
                verdict(items[2], options, (None, None))]
    return items, verdicts, options


def human_scores_only_on_unscored_items():
    options = RatingOptions()
    items = [item(0, 4), item(1)]
    return items, [verdict(items[0], options, (None, None)), verdict(items[1], options, ("3", None))], options


def one_score_everywhere():
    """Judge and humans always give 3: the correlations and Scott's pi are undefined."""
    options = RatingOptions()
    items = [item(n, 3) for n in range(4)]
    return items, [verdict(it, options, ("3", None)) for it in items], options


def nothing():
    return [], [], RatingOptions()


def two_turn(n, category, human_score=None):
    return RatingItem(id=f"t{n}", turns=["What is 2+2?", "And times 3?"], responses=["4", "12"], category=category,
                      human_score=human_score)


def turn_verdict(it, options, *labels):
    """One call per turn, labelled as given (None: unreadable)."""
    results = [CallResult(f"turn{t}", 0, label, None, label or "") for t, label in enumerate(labels, start=1)]
    return PROTOCOL.combine(it, results, options)


def multi_turn_with_categories():
    """MT-Bench-like: two-turn items in two categories, a single-turn item without category, a turn the judge
    could not read (its turn is left out), an unscored item and a reviewed one."""
    options = RatingOptions(seed=2)
    items = [two_turn(0, "math"), two_turn(1, "math"), two_turn(2, "writing"), two_turn(3, "writing", 4), item(4)]
    verdicts = [turn_verdict(items[0], options, "5", "3"), turn_verdict(items[1], options, "4", None),
                turn_verdict(items[2], options, None, None), turn_verdict(items[3], options, "2", "2"),
                verdict(items[4], options, ("3", None))]
    verdicts[3] = review(items[3], verdicts[3], 4)
    return items, verdicts, options


def categories_without_turns():
    """Categories on single-turn items only: per_category without per-turn means, no per_turn; one category
    has nothing scored."""
    options = RatingOptions()
    items = [RatingItem(id="c0", prompt="p", response="r", category="coding"),
             RatingItem(id="c1", prompt="p", response="r", category="roleplay")]
    return items, [verdict(items[0], options, ("4", None)), verdict(items[1], options, (None, None))], options


def one_two_turn_item():
    """A single two-turn item: per_turn entries of one item each."""
    options = RatingOptions()
    items = [two_turn(0, None)]
    return items, [turn_verdict(items[0], options, "4", "2")], options


FIXTURES = {f.__name__: f for f in (human_scores_samples_reviews_unscored_and_failed, one_sample_no_human_scores,
                                     two_human_scores_only, human_scores_only_on_unscored_items, one_score_everywhere,
                                     nothing, multi_turn_with_categories, categories_without_turns,
                                     one_two_turn_item)}


@pytest.fixture(scope="module")
def reports():
    return summarize_fixtures(PROTOCOL, FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_summary_and_reliability_match_their_models_exactly(reports, name):
    for part, model in MODELS.items():
        assert_exact(model, reports[name][part])


def test_the_fixtures_reach_every_branch(reports):
    main = reports["human_scores_samples_reviews_unscored_and_failed"]
    assert main["summary"]["scale_max"] == 5 and main["summary"]["n_failed"] == 2
    assert main["summary"]["pearson_r"] is not None and main["reliability"]["mean_score_sd"] is not None
    assert list(reports["two_human_scores_only"]["summary"]["score_histogram"]) == list(labels_for(9))
    assert "human_agreement" not in reports["one_sample_no_human_scores"]["summary"]
    assert_fixtures_cover(MODELS, list(reports.values()), never_null={
        "Agreement.cohen_kappa": "agreement() has pairs, and one shared label gives kappa 1.0 (not null, unlike pi)",
    })


def test_score_labels_are_the_labels_of_the_largest_scale():
    assert typing.get_args(ScoreLabel) == labels_for(MAX_SCALE)


@pytest.mark.parametrize("part, path, found", [
    ("summary", (), "surprise"),
    ("summary", ("human_agreement",), "human_agreement.surprise"),
    ("summary", ("human_agreement", "after_review"), "human_agreement.after_review.surprise"),
    ("reliability", (), "surprise"),
    ("reliability", ("bpde_histogram", 0), "bpde_histogram[0].surprise"),
])
def test_a_key_the_models_do_not_declare_is_caught(reports, part, path, found):
    report = add_key(reports["human_scores_samples_reviews_unscored_and_failed"][part], path)
    MODELS[part].model_validate(report)
    assert undeclared_keys(MODELS[part], report) == [found]
    with pytest.raises(AssertionError):
        assert_exact(MODELS[part], report)


def test_a_histogram_key_outside_the_scores_is_refused(reports):
    summary = add_key(reports["one_sample_no_human_scores"]["summary"], ("score_histogram",), key="10")
    with pytest.raises(ValueError):
        RatingSummary.model_validate(summary)


def test_models_have_json_schemas():
    schema = RatingSummary.model_json_schema()
    assert schema["properties"]["score_histogram"]["propertyNames"]["enum"] == list(labels_for(MAX_SCALE))
    assert "pearson_r" not in schema["required"] and "mean_score_ci95" in schema["required"]
    assert RatingReliability.model_json_schema()["required"][-1] == "mean_score_sd"
