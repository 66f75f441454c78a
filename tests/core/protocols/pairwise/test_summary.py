"""PairwiseSummary and PairwiseReliability describe exactly what PairwiseProtocol.summarize returns."""

import pytest

from service.core.protocol import CallResult
from service.core.protocols.pairwise.models import (
    PairwiseItem,
    PairwiseOptions,
    PairwiseReview,
)
from service.core.protocols.pairwise.protocol import PairwiseProtocol
from service.core.protocols.pairwise.summary import PairwiseReliability, PairwiseSummary
from service.core.report_models import TwoResponseReliability, undeclared_keys
from tests.core.test_report_models import (
    summarize_fixtures,
    FAILED_BEFORE_COMBINING,
    add_key,
    assert_exact,
    assert_fixtures_cover,
    failed,
)

PROTOCOL = PairwiseProtocol()
MODELS = {"summary": PairwiseSummary, "reliability": PairwiseReliability}
A_WINS = (("ab", "1"), ("ba", "2"))
B_WINS = (("ab", "2"), ("ba", "1"))
INCONSISTENT = (("ab", "1"), ("ba", "1"))  # A first wins in both orders: a tie overall
UNREADABLE = (("ab", None), ("ba", None))
SOFT = {"1": 0.6, "2": 0.3, "tie": 0.1}


def item(n, human_label=None, a="four", b="five"):
    return PairwiseItem(id=f"i{n}", prompt="What is 2+2?", response_a=a, response_b=b, human_label=human_label)


def verdict(it, calls, options, probs=None, error=None):
    results = [CallResult(order, 0, label, probs, label or "", error) for order, label in calls]
    return PROTOCOL.combine(it, results, options)


def review(it, v, label):
    return PROTOCOL.apply_review(it, v, PairwiseReview(label=label))


def human_labels_reviews_unscored_and_failed():
    """Few items (no length control), human labels on most, a review, an unscored and two failed items."""
    options = PairwiseOptions()
    items = [item(0, "a"), item(1, "b"), item(2, "tie"), item(3, "a"), item(4), item(5, "b"), item(6, "a")]
    verdicts = [verdict(items[0], A_WINS, options), verdict(items[1], B_WINS, options),
                verdict(items[2], INCONSISTENT, options, probs=SOFT), verdict(items[3], UNREADABLE, options),
                verdict(items[4], A_WINS, options),
                failed(verdict(items[5], UNREADABLE, options, error="engine error")), FAILED_BEFORE_COMBINING]
    verdicts[1] = review(items[1], verdicts[1], "tie")
    verdicts[3] = review(items[3], verdicts[3], "a")  # a human scores what the judge could not read
    return items, verdicts, options


def enough_items_for_length_control():
    """Twelve scored items of varied lengths, no human labels: lc_win_rate with its interval, no lc_note."""
    options = PairwiseOptions(seed=3)
    items = [item(n, a="x" * (10 + 7 * n), b="y" * 40) for n in range(12)]
    calls = [A_WINS if n % 3 else B_WINS for n in range(12)]
    calls[5] = INCONSISTENT
    return items, [verdict(it, c, options) for it, c in zip(items, calls)], options


def single_order():
    """orders: single: per_order has no ``ba``, position consistency is null."""
    options = PairwiseOptions(orders="single")
    items = [item(0, "a"), item(1, "b"), item(2, "a")]
    calls = [(("ab", "1"),), (("ab", "1"),), (("ab", None),)]
    return items, [verdict(it, c, options) for it, c in zip(items, calls)], options


def one_label_everywhere():
    """Judge and humans always say "a": Scott's pi is undefined (null), every preference 1 (lc caveat)."""
    options = PairwiseOptions()
    items = [item(n, "a", a="x" * (5 + n)) for n in range(10)]
    return items, [verdict(it, A_WINS, options) for it in items], options


def labels_only_on_unscored_items():
    """Human labels only where the judge has nothing: every agreement entry is null."""
    options = PairwiseOptions()
    items = [item(0, "a"), item(1)]
    return items, [verdict(items[0], UNREADABLE, options), verdict(items[1], A_WINS, options)], options


def nothing():
    return [], [], PairwiseOptions()


def five_point_scale():
    """scale 5: weighted_win_rate from the strong verdicts' battles; a reviewed item is one plain battle."""
    options = PairwiseOptions(scale=5)
    items = [item(n) for n in range(4)]
    calls = [(("ab", "A>>B"), ("ba", "B>>A")), (("ab", "B>A"), ("ba", "A>B")), (("ab", "A=B"), ("ba", "A=B")),
             (("ab", "A>B"), ("ba", "B>A"))]
    verdicts = [verdict(it, c, options) for it, c in zip(items, calls)]
    verdicts[3] = review(items[3], verdicts[3], "b")
    return items, verdicts, options


def five_point_nothing_scored():
    """scale 5 with nothing scored: weighted_win_rate is null."""
    options = PairwiseOptions(scale=5)
    return [item(0)], [verdict(item(0), UNREADABLE, options)], options


def two_turn(n, category, human_label=None):
    return PairwiseItem(id=f"t{n}", turns=["What is 2+2?", "And times 3?"], responses_a=["4", "12"],
                        responses_b=["5", "15"], category=category, human_label=human_label)


def turn_calls(turn1, turn2):
    """Both orders of both turns, each order given as (ab label, ba label); None: unreadable."""
    return (("ab", turn1[0]), ("ba", turn1[1]), ("ab.t2", turn2[0]), ("ba.t2", turn2[1]))


def multi_turn_with_categories():
    """MT-Bench-like: two-turn items in two categories, a single-turn item without category, a turn the judge
    could not read, an unscored item and a reviewed one."""
    options = PairwiseOptions()
    items = [two_turn(0, "math"), two_turn(1, "math"), two_turn(2, "writing"), two_turn(3, "writing", "a"), item(4)]
    verdicts = [verdict(items[0], turn_calls(("1", "2"), ("2", "1")), options),
                verdict(items[1], turn_calls(("1", "2"), (None, None)), options),
                verdict(items[2], turn_calls((None, None), (None, None)), options),
                verdict(items[3], turn_calls(("tie", "tie"), ("1", "1")), options),
                verdict(items[4], A_WINS, options)]
    verdicts[3] = review(items[3], verdicts[3], "a")
    return items, verdicts, options


def categories_without_turns():
    """Categories on single-turn items only: per_category without per-turn win rates, no per_turn; one category
    has nothing scored."""
    options = PairwiseOptions()
    items = [PairwiseItem(id="c0", prompt="p", response_a="a", response_b="b", category="coding"),
             PairwiseItem(id="c1", prompt="p", response_a="a", response_b="b", category="roleplay")]
    return items, [verdict(items[0], A_WINS, options), verdict(items[1], UNREADABLE, options)], options


FIXTURES = {f.__name__: f for f in (human_labels_reviews_unscored_and_failed, enough_items_for_length_control,
                                     single_order, one_label_everywhere, labels_only_on_unscored_items, nothing,
                                     five_point_scale, five_point_nothing_scored, multi_turn_with_categories,
                                     categories_without_turns)}


@pytest.fixture(scope="module")
def reports():
    return summarize_fixtures(PROTOCOL, FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_summary_and_reliability_match_their_models_exactly(reports, name):
    for part, model in MODELS.items():
        assert_exact(model, reports[name][part])


def test_the_fixtures_reach_every_branch(reports):
    summary = reports["human_labels_reviews_unscored_and_failed"]["summary"]
    assert (summary["n_unscored"], summary["n_failed"]) == (0, 2) and "human_agreement" in summary
    assert reports["human_labels_reviews_unscored_and_failed"]["reliability"]["n_reviewed"] == 2
    assert summary["lc_win_rate"] is None and summary["lc_note"].startswith("needs at least")
    lc = reports["enough_items_for_length_control"]["summary"]
    assert lc["lc_win_rate"] is not None and lc["lc_note"] is None and "human_agreement" not in lc
    assert "ba" not in reports["single_order"]["summary"]["human_agreement"]["per_order"]
    assert_fixtures_cover(MODELS, list(reports.values()), never_null={
        "Agreement.cohen_kappa": "agreement() has pairs, and one shared label gives kappa 1.0 (not null, unlike pi)",
    })


def test_five_point_weighted_win_rate_counts_strong_verdicts_as_their_battles(reports):
    summary = reports["five_point_scale"]["summary"]
    # A strongly (3 battles won), B slightly (1 lost), tie (½ of 1), reviewed b (1 lost): 3.5 / 6
    assert summary["weighted_win_rate"] == pytest.approx(3.5 / 6)
    assert summary["win_rate"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)  # strength never moves the win rate
    assert "weighted_win_rate" not in reports["enough_items_for_length_control"]["summary"]


def test_unscored_items_without_a_review_count_as_unscored():
    options = PairwiseOptions()
    items = [item(0), item(1)]
    summary, _ = PROTOCOL.summarize(items, [verdict(items[0], UNREADABLE, options),
                                            verdict(items[1], A_WINS, options)], options)
    assert summary["n_unscored"] == 1
    assert_exact(PairwiseSummary, summary)


@pytest.mark.parametrize("part, path, found", [
    ("summary", (), "surprise"),
    ("summary", ("human_agreement",), "human_agreement.surprise"),
    ("summary", ("human_agreement", "calibrated"), "human_agreement.calibrated.surprise"),
    ("summary", ("human_agreement", "per_order"), "human_agreement.per_order.surprise"),
    ("summary", ("human_agreement", "per_order", "ba"), "human_agreement.per_order.ba.surprise"),
    ("reliability", (), "surprise"),
    ("reliability", ("bpde_histogram", 2), "bpde_histogram[2].surprise"),
])
def test_a_key_the_models_do_not_declare_is_caught(reports, part, path, found):
    report = add_key(reports["human_labels_reviews_unscored_and_failed"][part], path)
    MODELS[part].model_validate(report)  # extra="allow": validation alone keeps it
    assert undeclared_keys(MODELS[part], report) == [found]
    with pytest.raises(AssertionError):
        assert_exact(MODELS[part], report)


def test_models_have_json_schemas_and_the_reliability_is_the_shared_one():
    assert PairwiseReliability is TwoResponseReliability
    schema = PairwiseSummary.model_json_schema()
    assert "human_agreement" not in schema["required"] and "lc_note" in schema["required"]
    assert PairwiseReliability.model_json_schema()["type"] == "object"
