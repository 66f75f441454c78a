"""HrefSummary and HrefReliability describe exactly what HrefProtocol.summarize returns."""

import json

import pytest

from service.core.judging import JudgeOutput
from service.core.protocol import CallResult
from service.core.protocols.href.models import HrefItem, HrefOptions, HrefReview
from service.core.protocols.href.protocol import HrefProtocol
from service.core.protocols.href.summary import HrefMethod, HrefReliability, HrefSummary
from service.core.report_models import undeclared_keys
from tests.core.test_report_models import (
    summarize_fixtures,
    FAILED_BEFORE_COMBINING,
    add_key,
    assert_exact,
    assert_fixtures_cover,
    failed,
)

PROTOCOL = HrefProtocol()
MODELS = {"summary": HrefSummary, "reliability": HrefReliability}
A_WINS = (("ab", "1"), ("ba", "2"))
B_WINS = (("ab", "2"), ("ba", "1"))
INCONSISTENT = (("ab", "1"), ("ba", "1"))
UNREADABLE = (("ab", None), ("ba", None))


def item(n, category="Generation", human_label=None, response="In Paris.", baseline="In Rome, I think."):
    return HrefItem(id=f"i{n}", prompt="Where is the Eiffel tower?", category=category, response=response,
                    baseline_response=baseline, human_reference="Paris, on the Seine.", human_label=human_label)


def judged(it, options, calls, probs=None, error=None):
    return PROTOCOL.combine(it, [CallResult(o, 0, label, probs, label or "", error) for o, label in calls], options)


def embedded(it, options, sims, error=None):
    """The similarity call as a worker parses it, then combined."""
    call = PROTOCOL.plan_calls(it, options)[0]
    result = PROTOCOL.parse(call, JudgeOutput(text=json.dumps(sims), similarities=sims, error=error), options)
    return PROTOCOL.combine(it, [result], options)


def review(it, v, label):
    return PROTOCOL.apply_review(it, v, HrefReview(label=label))


def all_three_methods_labels_reviews_unscored_and_failed():
    """judge_with_reference, judge and embedding categories (spellings merged), human labels, reviews of a judged and
    an embedding item, unscored judged and embedding items, failed items, and a category without a method."""
    options = HrefOptions(seed=3, default_method=None, methods={"Generation": "judge_with_reference"})
    items = [item(0, "Generation", "a"), item(1, "generation", "b"), item(2, "GENERATION"),
             item(3, "Brainstorm", "a"), item(4, "Brainstorm", "b"), item(5, "Open QA", "a"), item(6, "open_qa", "b"),
             item(7, "Open QA"), item(8, "Fact checking", "tie"), item(9, "Coding"), item(10, "Generation"),
             item(11, "Brainstorm")]
    verdicts = [
        judged(items[0], options, A_WINS), judged(items[1], options, INCONSISTENT, {"1": 0.5, "2": 0.4, "tie": 0.1}),
        judged(items[2], options, B_WINS), judged(items[3], options, A_WINS), judged(items[4], options, UNREADABLE),
        embedded(items[5], options, [0.8, 0.3]), embedded(items[6], options, [0.2, 0.6]),
        embedded(items[7], options, [0.5, 0.5]), embedded(items[8], options, [0.1, 0.2], error="no embedder"),
        PROTOCOL.combine(items[9], [], options),
        failed(judged(items[10], options, UNREADABLE, error="engine error")), FAILED_BEFORE_COMBINING,
    ]
    verdicts[4] = review(items[4], verdicts[4], "b")
    verdicts[6] = review(items[6], verdicts[6], "tie")
    return items, verdicts, options


def enough_items_for_length_control():
    """Twelve scored judged items of varied lengths, no human labels, no embedding items."""
    options = HrefOptions(seed=5)
    items = [item(n, response="r" * (10 + 7 * n), baseline="b" * 45) for n in range(12)]
    calls = [A_WINS if n % 3 else B_WINS for n in range(12)]
    calls[4] = INCONSISTENT
    return items, [judged(it, options, c) for it, c in zip(items, calls)], options


def single_order_without_embeddings():
    options = HrefOptions(orders="single")
    items = [item(0, human_label="a"), item(1, "Brainstorm", "b"), item(2, human_label="tie")]
    calls = [(("ab", "1"),), (("ab", "2"),), (("ab", None),)]
    return items, [judged(it, options, c) for it, c in zip(items, calls)], options


def embeddings_only_with_labels_on_unscored_items():
    """Human labels only where nothing was scored: every agreement entry is null; no judged item at all."""
    options = HrefOptions()
    items = [item(0, "Open QA", "a"), item(1, "Open QA")]
    return items, [embedded(items[0], options, [0.1, 0.2], error="down"), embedded(items[1], options, [0.3, 0.1])], \
        options


def one_label_everywhere():
    options = HrefOptions()
    items = [item(n, human_label="a") for n in range(3)]
    return items, [judged(it, options, A_WINS) for it in items], options


def nothing():
    return [], [], HrefOptions()


FIXTURES = {f.__name__: f for f in (all_three_methods_labels_reviews_unscored_and_failed,
                                     enough_items_for_length_control, single_order_without_embeddings,
                                     embeddings_only_with_labels_on_unscored_items, one_label_everywhere, nothing)}


@pytest.fixture(scope="module")
def reports():
    return summarize_fixtures(PROTOCOL, FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_summary_and_reliability_match_their_models_exactly(reports, name):
    for part, model in MODELS.items():
        assert_exact(model, reports[name][part])


def test_the_fixtures_reach_every_branch(reports):
    main = reports["all_three_methods_labels_reviews_unscored_and_failed"]
    per = main["summary"]["per_category"]
    assert {name: row["method"] for name, row in per.items()} == {
        "Generation": "judge_with_reference", "Brainstorm": "judge", "Open QA": "embedding",
        "Fact checking": "embedding", "Coding": None}
    assert per["Generation"]["n_failed"] == 1 and main["summary"]["n_failed"] == 2
    assert "similarity" in main["summary"]["human_agreement"]["per_order"]
    assert main["reliability"]["n_reviewed"] == 1  # the judged items' reviews only: the embedding review is not here
    lc = reports["enough_items_for_length_control"]["summary"]
    assert lc["lc_win_rate"] is not None and lc["lc_note"] is None
    assert set(reports["single_order_without_embeddings"]["summary"]["human_agreement"]["per_order"]) == {"ab"}
    assert_fixtures_cover(MODELS, list(reports.values()), never_null={
        "Agreement.cohen_kappa": "agreement() has pairs, and one shared label gives kappa 1.0 (not null, unlike pi)",
    })


def test_methods_are_the_item_models_methods():
    from service.core.protocols.href.models import Method

    assert HrefMethod == Method


@pytest.mark.parametrize("part, path, found", [
    ("summary", (), "surprise"),
    ("summary", ("per_category", "Open QA"), "per_category['Open QA'].surprise"),
    ("summary", ("human_agreement", "per_order"), "human_agreement.per_order.surprise"),
    ("summary", ("human_agreement", "per_order", "similarity"), "human_agreement.per_order.similarity.surprise"),
    ("summary", ("human_agreement", "after_review"), "human_agreement.after_review.surprise"),
    ("reliability", (), "surprise"),
    ("reliability", ("bpde_histogram", 1), "bpde_histogram[1].surprise"),
])
def test_a_key_the_models_do_not_declare_is_caught(reports, part, path, found):
    report = add_key(reports["all_three_methods_labels_reviews_unscored_and_failed"][part], path)
    MODELS[part].model_validate(report)
    assert undeclared_keys(MODELS[part], report) == [found]
    with pytest.raises(AssertionError):
        assert_exact(MODELS[part], report)


def test_models_have_json_schemas():
    schema = HrefSummary.model_json_schema()
    assert "per_category" in schema["required"] and "human_agreement" not in schema["required"]
    assert "HrefCategorySummary" in schema["$defs"]
    assert "embedding_share" in HrefReliability.model_json_schema()["required"]
