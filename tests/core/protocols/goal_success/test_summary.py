"""GoalSuccessSummary and GoalSuccessReliability describe exactly what GoalSuccessProtocol.summarize returns."""

import json

import pytest

from service.core.protocol import CallResult
from service.core.protocols.goal_success.models import (
    ACHIEVED,
    GoalSuccessItem,
    GoalSuccessOptions,
    GoalSuccessReview,
)
from service.core.protocols.goal_success.protocol import (
    SEGMENT_ORDER,
    GoalSuccessProtocol,
)
from service.core.protocols.goal_success.summary import (
    GoalSuccessReliability,
    GoalSuccessSummary,
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

PROTOCOL = GoalSuccessProtocol()
MODELS = {"summary": GoalSuccessSummary, "reliability": GoalSuccessReliability}
CONVERSATION = [
    {"role": "user", "content": "Book a table for two tonight."},
    {"role": "assistant", "content": "Done: 8pm at Luigi's."},
    {"role": "user", "content": "Also, what's the weather?"},
    {"role": "assistant", "content": "I cannot check the weather."},
]
TWO_GOALS = json.dumps({"goals": [{"description": "book a table", "start_turn": 0, "end_turn": 1},
                                  {"description": "learn the weather", "start_turn": 2, "end_turn": 3}]})


def item(n, goal_ids=(), human_labels=None):
    goals = [{"id": g, "description": f"goal {g}"} for g in goal_ids] or None
    return GoalSuccessItem(id=f"c{n}", conversation=CONVERSATION, goals=goals, human_labels=human_labels)


def segmented(raw=TWO_GOALS, error=None):
    return CallResult(SEGMENT_ORDER, 0, "segmented" if error is None else None, None, raw, error)


def goal_call(goal_id, sample, label, probs=None, error=None):
    return CallResult(f"goal:{goal_id}", sample, label, probs, label or "", error)


def review(it, v, goals):
    return PROTOCOL.apply_review(it, v, GoalSuccessReview.model_validate({"goals": goals}))


def given_and_segmented_goals_labels_reviews_unscored_and_failed():
    """Given goals with human labels (root causes too), k = 2 samples, segmented items (usable and not), a goal with
    no readable call, a failure without a root cause, a review, and failed items."""
    options = GoalSuccessOptions(samples=2, temperature=0.7)
    labels = {"g1": {"achieved": True}, "g2": {"achieved": False, "root_cause": "incorrect_information"},
              "g3": {"achieved": False, "root_cause": "incomplete_answer"}}
    items = [item(0, ("g1", "g2", "g3"), labels), item(1, ("g1", "g2"), {"g2": {"achieved": True}}),
             item(2), item(3), item(4, ("g1",)), item(5, ("g1",)), item(6, ("g1",))]
    results = [
        [goal_call("g1", 0, ACHIEVED), goal_call("g1", 1, ACHIEVED),
         goal_call("g2", 0, "incorrect_information"), goal_call("g2", 1, "retrieval_failure"),
         goal_call("g3", 0, "misunderstood_intent"), goal_call("g3", 1, None)],
        [goal_call("g1", 0, "other", {"achieved": 0.4}), goal_call("g2", 0, ACHIEVED)],  # g1 fails, cause unknown
        [segmented(), goal_call("g1", 0, ACHIEVED), goal_call("g2", 0, "tool_or_action_failure")],
        [segmented(raw="not json")],
        [goal_call("g1", 0, None), goal_call("g1", 1, None)],  # unscored
        [goal_call("g1", 0, None, error="engine error")],
        None,
    ]
    verdicts = [PROTOCOL.combine(it, r, options) for it, r in zip(items, results) if r is not None]
    verdicts[5] = failed(verdicts[5])
    verdicts.append(FAILED_BEFORE_COMBINING)
    verdicts[1] = review(items[1], verdicts[1], {"g1": {"achieved": False}})
    return items, verdicts, options


def no_human_labels():
    options = GoalSuccessOptions(seed=2)
    items = [item(0, ("g1",)), item(1)]
    return items, [PROTOCOL.combine(items[0], [goal_call("g1", 0, ACHIEVED)], options),
                   PROTOCOL.combine(items[1], [segmented(error="engine error")], options)], options


def labels_on_goals_never_judged():
    """Human labels only on goals no call judged: the agreement entries are null."""
    options = GoalSuccessOptions()
    items = [item(0, ("g1",), {"g1": {"achieved": False, "root_cause": "other"}})]
    return items, [PROTOCOL.combine(items[0], [goal_call("g1", 0, None)], options)], options


def one_label_everywhere():
    """Every goal achieved by judge and human: Scott's pi undefined, no failures (every share null)."""
    options = GoalSuccessOptions()
    items = [item(n, ("g1",), {"g1": {"achieved": True}}) for n in range(3)]
    return items, [PROTOCOL.combine(it, [goal_call("g1", 0, ACHIEVED)], options) for it in items], options


def nothing():
    return [], [], GoalSuccessOptions()


FIXTURES = {f.__name__: f for f in (given_and_segmented_goals_labels_reviews_unscored_and_failed, no_human_labels,
                                     labels_on_goals_never_judged, one_label_everywhere, nothing)}


@pytest.fixture(scope="module")
def reports():
    return summarize_fixtures(PROTOCOL, FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_summary_and_reliability_match_their_models_exactly(reports, name):
    for part, model in MODELS.items():
        assert_exact(model, reports[name][part])


def test_the_fixtures_reach_every_branch(reports):
    main = reports["given_and_segmented_goals_labels_reviews_unscored_and_failed"]
    summary, reliability = main["summary"], main["reliability"]
    assert (summary["n_unscored"], summary["n_failed"]) == (2, 2)
    assert summary["root_causes"]["counts"]["unspecified"] == 1
    assert summary["human_agreement"]["root_cause"]["n"] == 2
    assert (reliability["n_segmented_items"], reliability["n_segmentation_failed"], reliability["n_reviewed"]) == \
        (2, 1, 1)
    assert set(reports["one_label_everywhere"]["summary"]["root_causes"]["shares"].values()) == {None}
    assert "human_agreement" not in reports["no_human_labels"]["summary"]
    assert_fixtures_cover(MODELS, list(reports.values()), never_null={
        "Agreement.cohen_kappa": "agreement() has pairs, and one shared label gives kappa 1.0 (not null, unlike pi)",
    })


@pytest.mark.parametrize("part, path, found", [
    ("summary", (), "surprise"),
    ("summary", ("root_causes",), "root_causes.surprise"),
    ("summary", ("human_agreement",), "human_agreement.surprise"),
    ("summary", ("human_agreement", "root_cause"), "human_agreement.root_cause.surprise"),
    ("reliability", (), "surprise"),
    ("reliability", ("bpde_histogram", 3), "bpde_histogram[3].surprise"),
])
def test_a_key_the_models_do_not_declare_is_caught(reports, part, path, found):
    report = add_key(reports["given_and_segmented_goals_labels_reviews_unscored_and_failed"][part], path)
    MODELS[part].model_validate(report)
    assert undeclared_keys(MODELS[part], report) == [found]
    with pytest.raises(AssertionError):
        assert_exact(MODELS[part], report)


def test_models_have_json_schemas():
    schema = GoalSuccessSummary.model_json_schema()
    assert "root_causes" in schema["required"] and "human_agreement" not in schema["required"]
    assert {"RootCauseDistribution", "GoalSuccessHumanAgreement", "Agreement"} <= set(schema["$defs"])
    assert "segmentation_failure_rate" in GoalSuccessReliability.model_json_schema()["required"]
