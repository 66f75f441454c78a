"""The goal_success protocol: segmentation, staged planning, per-goal verdicts, aggregation, review."""

import json
import math
import re

import pytest
from pydantic import ValidationError

from service.core.protocols.goal_success.protocol import (
    ACHIEVED, DEFAULT_ROOT_CAUSES, RATIONALE_QUESTION, SEGMENT_ORDER, SUITE_ERROR, TEMPLATE, VERDICT_QUESTION,
    GoalSuccessItem, GoalSuccessOptions, GoalSuccessProtocol, GoalSuccessReview,
)
from service.core.judging import JudgeOutput
from service.core.protocol import CallResult, get_protocol

PROTOCOL = GoalSuccessProtocol()
CONVERSATION = [
    {"role": "user", "content": "Book a table for two tonight."},
    {"role": "assistant", "content": "Done: 8pm at Luigi's."},
    {"role": "user", "content": "Also, what's the weather?"},
    {"role": "assistant", "content": "I cannot check the weather."},
]
TWO_GOALS = json.dumps({"goals": [{"description": "book a table", "start_turn": 0, "end_turn": 1},
                                  {"description": "learn the weather", "start_turn": 2, "end_turn": 3}]})


OUT_OF_RANGE = json.dumps({"goals": [{"description": "a", "start_turn": 7, "end_turn": 8}]})


def make_item(**overrides) -> GoalSuccessItem:
    fields = {"id": "c1", "conversation": CONVERSATION}
    fields.update(overrides)
    return GoalSuccessItem(**fields)


def given_goals(*ids):
    return [{"id": goal_id, "description": f"goal {goal_id}"} for goal_id in ids]


def segmented(raw=TWO_GOALS, error=None):
    return CallResult(SEGMENT_ORDER, 0, "segmented" if error is None else None, None, raw, error)


def goal_call(goal_id, sample, label, probs=None, error=None):
    return CallResult(f"goal:{goal_id}", sample, label, probs, label or "", error)


def test_registered_by_name():
    assert get_protocol("goal_success").name == "goal_success"


# --- staged planning ------------------------------------------------------------------------------

def test_without_goals_the_first_stage_is_one_greedy_segmentation_call():
    calls = PROTOCOL.plan_calls(make_item(), GoalSuccessOptions(samples=3, temperature=0.9, seed=1))
    assert [(c.order, c.sample) for c in calls] == [(SEGMENT_ORDER, 0)]
    request = calls[0].request
    assert request.temperature == 0.0 and request.choices == () and request.max_tokens >= 512
    assert json.loads(request.json_schema)["properties"]["goals"]["maxItems"] == 8
    assert request.template == TEMPLATE
    assert "[Turn 0] User: Book a table for two tonight.\n[Turn 1] Assistant: Done" in request.messages[-1]["content"]


def test_with_the_segment_result_every_goal_gets_k_calls():
    options = GoalSuccessOptions(samples=3, temperature=0.8, seed=5)
    calls = PROTOCOL.plan_calls(make_item(), options, [segmented()])
    assert [(c.order, c.sample) for c in calls] == [(SEGMENT_ORDER, 0)] + [
        (f"goal:g{g}", s) for g in (1, 2) for s in range(3)]
    assert calls == PROTOCOL.plan_calls(make_item(), options, [segmented()])  # deterministic
    judged = calls[1:]
    assert len({c.request.seed for c in judged}) == 6 and all(c.request.temperature == 0.8 for c in judged)
    assert all(c.request.choices == tuple("ABCDEFGHI") for c in judged)


@pytest.mark.parametrize("prior", [[segmented(error="engine down")], [segmented(raw="{not json")],
                                   [segmented(raw='{"goals": []}')], []])
def test_no_goal_calls_until_a_usable_segmentation(prior):
    assert [c.order for c in PROTOCOL.plan_calls(make_item(), GoalSuccessOptions(), prior)] == [SEGMENT_ORDER]


def test_given_goals_skip_segmentation():
    item = make_item(goals=given_goals("book", "weather"))
    calls = PROTOCOL.plan_calls(item, GoalSuccessOptions(samples=2, temperature=0.5))
    assert [(c.order, c.sample) for c in calls] == [("goal:book", 0), ("goal:book", 1),
                                                    ("goal:weather", 0), ("goal:weather", 1)]
    assert PROTOCOL.plan_calls(item, GoalSuccessOptions(samples=2, temperature=0.5), [segmented()]) == calls


def test_goal_prompt_shares_the_conversation_prefix_and_ends_with_the_goal():
    item = make_item(standards="Be polite.", goals=[
        {"id": "a", "description": "book a table", "success_criteria": "a time is confirmed", "turns": [0, 1]},
        {"id": "b", "description": "learn the weather"}])
    first, second = (c.request.messages[-1]["content"] for c in PROTOCOL.plan_calls(item, GoalSuccessOptions()))
    prefix = first.split("[User goal]")[0]
    assert second.startswith(prefix)
    assert prefix.index("[Answer codes]") < prefix.index("[Quality standards]\nBe polite.") < prefix.index(
        "[Conversation]\n[Turn 0] User:") < prefix.index("[End of conversation]")
    assert '"A" = achieved' in prefix and '"D" = not achieved, root cause incomplete_answer' in prefix
    assert "[Success criteria]\na time is confirmed" in first and "Turns 0 to 1" in first
    assert "The whole conversation." in second
    assert first.endswith(VERDICT_QUESTION)


def test_rationale_mode_asks_for_evidence_first():
    item = make_item(goals=given_goals("a"))
    request = PROTOCOL.plan_calls(item, GoalSuccessOptions(verdict_mode="rationale", rationale_tokens=64))[0].request
    assert request.rationale_tokens == 64 and request.verdict_followup == VERDICT_QUESTION
    assert request.messages[-1]["content"].endswith(RATIONALE_QUESTION)


# --- parsing judge outputs ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "root_causes, text, logprobs, error, label, probs",
    [
        (None, "A", None, None, ACHIEVED, None),
        (None, "D", None, None, "incomplete_answer", None),
        (None, "I", None, None, "other", None),
        (None, "D", {"A": math.log(0.3), "D": math.log(0.6), "x": math.log(0.1)}, None, "incomplete_answer",
         {ACHIEVED: 0.3 / 0.9, "incomplete_answer": 0.6 / 0.9}),
        (None, "??", {"C": math.log(0.9), "A": math.log(0.1)}, None, "incorrect_information",
         {ACHIEVED: 0.1, "incorrect_information": 0.9}),
        (["rude", "wrong"], "C", None, None, "wrong", None),                # custom taxonomy: B=rude, C=wrong
        (["rude", "wrong"], "D", None, None, None, None),                   # no such code
        (None, "", None, "boom", None, None),
    ],
)
def test_parse_maps_codes_to_names(root_causes, text, logprobs, error, label, probs):
    options = GoalSuccessOptions(**({"root_causes": root_causes} if root_causes else {}))
    call = PROTOCOL.plan_calls(make_item(goals=given_goals("a")), options)[0]
    result = PROTOCOL.parse(call, JudgeOutput(text=text, verdict_top_logprobs=logprobs, error=error), options)
    assert result.label == label
    if probs is None:
        assert result.label_probs is None
    else:
        expected = {name: probs.get(name, 0.0) for name in options.codes().values()}
        assert result.label_probs == pytest.approx(expected)


@pytest.mark.parametrize("text, error, label", [(TWO_GOALS, None, "segmented"), ("{}", None, None),
                                                (OUT_OF_RANGE, None, None), (TWO_GOALS, "boom", None)])
def test_parse_segmentation_call(text, error, label):
    options = GoalSuccessOptions()
    call = PROTOCOL.plan_calls(make_item(), options)[0]
    result = PROTOCOL.parse(call, JudgeOutput(text=text, error=error), options)
    assert (result.label, result.label_probs, result.raw_output) == (label, None, text)


# --- combining ------------------------------------------------------------------------------------

def _entropy(*counts):
    total = sum(counts)
    return -sum(c / total * math.log(c / total) for c in counts if c)


@pytest.mark.parametrize(
    "calls, achieved, p, root_cause, bpde",
    [
        # MEC k=3, labels only: 2 of 3 achieved
        ([("A", None), ("A", None), ("D", None)], True, 2 / 3, None, _entropy(2, 1)),
        # MEC k=3, all agree: BPDE 0
        ([("B", None)] * 3, False, 0.0, "misunderstood_intent", 0.0),
        # soft: mean P(achieved) = (0.6 + 0.4 + 0.35) / 3 = 0.45 -> not achieved; root cause by summed probability
        ([("A", {"A": 0.6, "C": 0.1, "D": 0.3}), ("D", {"A": 0.4, "C": 0.25, "D": 0.35}),
          ("C", {"A": 0.35, "C": 0.45, "D": 0.2})], False, 0.45, "incomplete_answer", _entropy(1, 1, 1)),
        # one call unparseable, one failed: verdict from the rest, never counted as not achieved
        ([("A", None), (None, None), ("error", None)], True, 1.0, None, 0.0),
        # exactly 1/2 is not more evidence for than against: not achieved, cause from the failing call
        ([("A", None), ("F", None)], False, 0.5, "tool_or_action_failure", _entropy(1, 1)),
    ],
)
def test_combine_one_goal_with_k_samples(calls, achieved, p, root_cause, bpde):
    options = GoalSuccessOptions(samples=len(calls), temperature=0.7)
    codes = options.codes()
    results = []
    for sample, (code, probs) in enumerate(calls):
        if code == "error":
            results.append(goal_call("a", sample, None, error="engine"))
        else:
            named = {codes[c]: v for c, v in probs.items()} if probs else None
            results.append(goal_call("a", sample, codes.get(code), named))
    verdict = PROTOCOL.combine(make_item(goals=given_goals("a")), results, options)
    goal = verdict.details["goals"][0]
    assert goal["achieved"] is achieved and goal["p_achieved"] == pytest.approx(p)
    assert goal["root_cause"] == root_cause
    assert verdict.bpde == pytest.approx(bpde) and goal["bpde"] == pytest.approx(bpde)
    assert verdict.score == float(achieved) and verdict.outcome == (ACHIEVED if achieved else "not_achieved")
    assert [c["sample"] for c in goal["calls"]] == list(range(len(calls)))


def test_combine_segmented_goals_scores_the_share_achieved():
    results = [segmented(), goal_call("g1", 0, ACHIEVED), goal_call("g2", 0, "retrieval_failure")]
    verdict = PROTOCOL.combine(make_item(), results, GoalSuccessOptions())
    assert (verdict.outcome, verdict.score, verdict.unscored, verdict.bpde) == ("not_achieved", 0.5, False, 0.0)
    goals = verdict.details["goals"]
    assert [(g["id"], g["description"], g["turns"], g["achieved"], g["root_cause"]) for g in goals] == [
        ("g1", "book a table", [0, 1], True, None), ("g2", "learn the weather", [2, 3], False, "retrieval_failure")]
    assert verdict.details["segmentation"] == {"method": "segmented", "status": "ok", "n_goals": 2, "dropped": []}


def test_combine_given_goals_records_their_spans():
    item = make_item(goals=[{"id": "a", "description": "book", "turns": [0, 1]}, {"id": "b", "description": "w"}])
    verdict = PROTOCOL.combine(item, [goal_call("a", 0, ACHIEVED), goal_call("b", 0, ACHIEVED)], GoalSuccessOptions())
    assert [g["turns"] for g in verdict.details["goals"]] == [[0, 1], None]
    assert verdict.details["segmentation"] == {"method": "given"}
    assert (verdict.outcome, verdict.score) == (ACHIEVED, 1.0)


def test_combine_averages_bpde_over_goals_and_skips_unjudged_goals():
    results = [segmented(), goal_call("g1", 0, ACHIEVED), goal_call("g1", 1, "other"),
               goal_call("g2", 0, None), goal_call("g2", 1, None)]
    verdict = PROTOCOL.combine(make_item(), results, GoalSuccessOptions(samples=2, temperature=0.7))
    assert [g["achieved"] for g in verdict.details["goals"]] == [False, None]
    assert verdict.score == 0.0 and verdict.bpde == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    "results, reason",
    [
        ([segmented(error="engine down")], "segmentation call failed: engine down"),
        ([segmented(raw="oops")], "segmentation output is not valid JSON"),
        ([], "segmentation not made yet"),
        ([segmented(), goal_call("g1", 0, None), goal_call("g2", 0, None, error="x")], "no goal could be judged"),
    ],
)
def test_unscored_items_say_why(results, reason):
    verdict = PROTOCOL.combine(make_item(), results, GoalSuccessOptions())
    assert verdict.unscored and verdict.outcome is None and verdict.score is None and verdict.bpde is None
    assert verdict.details["unscored_reason"] == reason


# --- summary --------------------------------------------------------------------------------------

def _wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _summary_fixture():
    options = GoalSuccessOptions()
    labels = {"g1": {"achieved": True}, "g2": {"achieved": False, "root_cause": "incorrect_information"},
              "g3": {"achieved": False, "root_cause": "incomplete_answer"}}
    items = [
        make_item(id="i1", goals=given_goals("g1", "g2", "g3"), human_labels=labels),
        make_item(id="i2", goals=given_goals("g1")),
        make_item(id="i3"),  # segmentation fails
        make_item(id="i4", goals=given_goals("g1", "g2")),
    ]
    results = [
        [goal_call("g1", 0, ACHIEVED), goal_call("g2", 0, "incorrect_information"),
         goal_call("g3", 0, "misunderstood_intent")],
        [goal_call("g1", 0, ACHIEVED)],
        [segmented(raw="not json")],
        [goal_call("g1", 0, "incorrect_information"), goal_call("g2", 0, None)],
    ]
    verdicts = [PROTOCOL.combine(item, r, options) for item, r in zip(items, results)]
    return items, verdicts, options


def test_summary_is_goal_level_with_wilson_interval_and_root_causes():
    items, verdicts, options = _summary_fixture()
    summary, reliability = PROTOCOL.summarize(items, verdicts, options)
    # goals judged: i1 3 (1 achieved), i2 1 (1), i4 1 (0) -> 2 / 5; the item mean would be (1/3 + 1 + 0) / 3
    assert summary["metric"] == "goal_success_rate"
    assert summary["goal_success_rate"] == pytest.approx(2 / 5)
    assert summary["goal_success_rate_ci95"] == pytest.approx(_wilson(2, 5))
    assert (summary["n_goals"], summary["n_goals_judged"], summary["n_goals_unscored"]) == (6, 5, 1)
    assert (summary["n_items"], summary["n_scored"], summary["n_unscored"]) == (4, 3, 1)
    causes = summary["root_causes"]
    assert causes["n_failed"] == 3
    assert causes["counts"]["incorrect_information"] == 2 and causes["counts"]["misunderstood_intent"] == 1
    assert causes["shares"]["incorrect_information"] == pytest.approx(2 / 3) and causes["shares"]["other"] == 0.0
    assert list(causes["counts"]) == list(DEFAULT_ROOT_CAUSES)
    assert reliability["n_segmented_items"] == 1 and reliability["segmentation_failure_rate"] == 1.0
    assert reliability["unscored_rate"] == pytest.approx(0.25)
    assert reliability["n_calls_scored"] == 5 and reliability["mean_bpde"] == 0.0


def test_summary_reports_goal_level_human_agreement():
    items, verdicts, options = _summary_fixture()
    summary, _ = PROTOCOL.summarize(items, verdicts, options)
    # human: yes, no, no; judge: yes, no, no -> accuracy 1, kappa 1
    assert summary["n_human_labelled"] == 3
    assert summary["judge_accuracy"] == 1.0 and summary["judge_cohen_kappa"] == pytest.approx(1.0)
    # root cause on the two goals both call failed: incorrect_information agrees, incomplete vs misunderstood not
    root = summary["human_agreement"]["root_cause"]
    assert root["n"] == 2 and root["accuracy"] == 0.5
    # hand-computed kappa: po = 1/2; pe = (1/2 * 1/2) [incorrect] + 0 + 0 = 1/4 -> (1/2 - 1/4) / (3/4) = 1/3
    assert root["cohen_kappa"] == pytest.approx(1 / 3)
    # Scott's pi: pooled incorrect 2/4, incomplete 1/4, misunderstood 1/4 -> pe = 3/8 -> (1/2 - 3/8) / (5/8) = 1/5
    assert root["scott_pi"] == pytest.approx(1 / 5)


def test_summary_human_agreement_with_disagreement_hand_computed_kappa():
    options = GoalSuccessOptions()
    items, verdicts = [], []
    # (human, judge) over four goals: (yes, yes), (yes, no), (no, no), (no, no)
    for n, (human, judge) in enumerate([(True, ACHIEVED), (True, "other"), (False, "other"), (False, "other")]):
        item = make_item(id=f"i{n}", goals=given_goals("g"), human_labels={"g": {"achieved": human}})
        items.append(item)
        verdicts.append(PROTOCOL.combine(item, [goal_call("g", 0, judge)], options))
    summary, _ = PROTOCOL.summarize(items, verdicts, options)
    # po = 3/4; human yes 1/2, judge yes 1/4 -> pe = 1/2*1/4 + 1/2*3/4 = 1/2; kappa = (3/4 - 1/2) / (1/2) = 1/2
    assert summary["judge_accuracy"] == 0.75 and summary["judge_cohen_kappa"] == pytest.approx(0.5)
    # pooled yes 3/8, no 5/8 -> pe = 34/64 = 17/32 -> pi = (24/32 - 17/32) / (15/32) = 7/15
    assert summary["judge_scott_pi"] == pytest.approx(7 / 15)
    assert summary["human_agreement"]["root_cause"] is None  # no human root causes given


def test_summary_without_any_judged_goal():
    items = [make_item()]
    verdicts = [PROTOCOL.combine(items[0], [segmented(error="x")], GoalSuccessOptions())]
    summary, _ = PROTOCOL.summarize(items, verdicts, GoalSuccessOptions())
    assert summary["goal_success_rate"] is None and summary["goal_success_rate_ci95"] is None
    assert summary["root_causes"]["n_failed"] == 0 and "human_agreement" not in summary


# --- review ---------------------------------------------------------------------------------------

def _two_goal_verdict():
    results = [segmented(), goal_call("g1", 0, ACHIEVED), goal_call("g2", 0, "retrieval_failure")]
    return PROTOCOL.combine(make_item(), results, GoalSuccessOptions())


def test_review_replaces_goals_and_recomputes_the_item():
    verdict = _two_goal_verdict()
    label = GoalSuccessReview.model_validate({"goals": {"g2": {"achieved": True}}})
    reviewed = PROTOCOL.apply_review(make_item(), verdict, label)
    assert (reviewed.outcome, reviewed.score, reviewed.reviewed) == (ACHIEVED, 1.0, True)
    goal = reviewed.details["goals"][1]
    assert goal["achieved"] is True and goal["root_cause"] is None
    assert goal["judge"] == {"achieved": False, "root_cause": "retrieval_failure"}
    assert reviewed.details["judge"] == {"outcome": "not_achieved", "score": 0.5, "unscored": False}
    assert verdict.details["goals"][1]["achieved"] is False  # the input verdict is unchanged
    again = PROTOCOL.apply_review(make_item(), reviewed, GoalSuccessReview.model_validate(
        {"goals": {"g1": {"achieved": False, "root_cause": "other"}, "g2": {"achieved": False}}}))
    assert (again.outcome, again.score) == ("not_achieved", 0.0)
    assert again.details["goals"][1]["judge"]["root_cause"] == "retrieval_failure"  # kept from the first review
    assert again.details["goals"][0]["root_cause"] == "other"


def test_reviewed_goals_count_in_the_summary_but_judge_agreement_uses_the_judge():
    item = make_item(goals=given_goals("g"), human_labels={"g": {"achieved": True}})
    verdict = PROTOCOL.combine(item, [goal_call("g", 0, "other")], GoalSuccessOptions())
    reviewed = PROTOCOL.apply_review(item, verdict, GoalSuccessReview(goals={"g": {"achieved": True}}))
    summary, reliability = PROTOCOL.summarize([item], [reviewed], GoalSuccessOptions())
    assert summary["goal_success_rate"] == 1.0
    report = summary["human_agreement"]
    assert report["calibrated"]["accuracy"] == 0.0 and report["after_review"]["accuracy"] == 1.0
    assert reliability["n_reviewed"] == 1


@pytest.mark.parametrize(
    "goals, message",
    [
        ({"g9": {"achieved": True}}, "no goal ['g9']"),
        ({"g1": {"achieved": False, "root_cause": "bad_luck"}}, "not one of"),
    ],
)
def test_review_refuses_unknown_goals_and_causes(goals, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PROTOCOL.apply_review(make_item(), _two_goal_verdict(), GoalSuccessReview(goals=goals))


def test_review_of_an_item_without_goals_is_refused():
    verdict = PROTOCOL.combine(make_item(), [segmented(error="x")], GoalSuccessOptions())
    with pytest.raises(ValueError, match="no goal"):
        PROTOCOL.apply_review(make_item(), verdict, GoalSuccessReview(goals={"g1": {"achieved": True}}))


def test_review_accepts_a_custom_taxonomy_recorded_on_the_verdict():
    options = GoalSuccessOptions(root_causes=["rude", "wrong"])
    item = make_item(goals=given_goals("g"))
    verdict = PROTOCOL.combine(item, [goal_call("g", 0, "wrong")], options)
    reviewed = PROTOCOL.apply_review(item, verdict, GoalSuccessReview(goals={"g": {"achieved": False,
                                                                                    "root_cause": "rude"}}))
    assert reviewed.details["goals"][0]["root_cause"] == "rude"


@pytest.mark.parametrize("raw", [{"goals": {}}, {"goals": {"g1": {"achieved": True, "root_cause": "other"}}},
                                 {"goals": {"g1": {}}}, {"label": "a"}])
def test_invalid_review_labels(raw):
    with pytest.raises(ValidationError):
        GoalSuccessReview.model_validate(raw)


# --- validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "fields, loc, message",
    [
        ({"conversation": [{"role": "assistant", "content": "hi"}]}, ("conversation",), "needs at least one user turn"),
        ({"conversation": []}, ("conversation",), ""),
        ({"conversation": [{"role": "bot", "content": "hi"}]}, ("conversation", 0, "role"), ""),
        ({"goals": given_goals("a", "a")}, ("goals",), "unique"),
        ({"goals": []}, ("goals",), ""),
        ({"goals": [{"id": "a", "description": "d", "turns": [0, 4]}]}, ("goals",), "past the last turn"),
        ({"goals": [{"id": "a", "description": "d", "turns": [2, 1]}]}, ("goals", 0, "turns"), "start <= end"),
        ({"goals": [{"id": "x" * 60, "description": "d"}]}, ("goals", 0, "id"), ""),
        ({"goals": [{"id": "a", "description": ""}]}, ("goals", 0, "description"), ""),
        ({"goals": given_goals("a"), "human_labels": {"b": {"achieved": True}}}, ("human_labels",), "unknown"),
        ({"human_labels": {"g1": {"achieved": True}}}, ("human_labels",), "name given goals"),
        ({"human_labels": None, "goals": given_goals("a"), "extra": 1}, ("extra",), ""),
        ({"id": ""}, ("id",), ""),
    ],
)
def test_invalid_items_name_the_field(fields, loc, message):
    raw = {"id": "c1", "conversation": CONVERSATION, **fields}
    with pytest.raises(ValidationError) as info:
        GoalSuccessItem.model_validate(raw)
    error = info.value.errors()[0]
    assert error["loc"] == loc and message in error["msg"]


@pytest.mark.parametrize(
    "options, loc",
    [({"root_causes": ["a", "a"]}, "root_causes"), ({"root_causes": ["achieved"]}, "root_causes"),
     ({"root_causes": []}, "root_causes"), ({"root_causes": [f"c{i}" for i in range(26)]}, "root_causes"),
     ({"root_causes": [" "]}, "root_causes"), ({"max_goals": 0}, "max_goals"),
     ({"samples": 2, "temperature": 0.0}, None), ({"bogus": 1}, "bogus")],
)
def test_invalid_options(options, loc):
    with pytest.raises(ValidationError) as info:
        GoalSuccessOptions(**options)
    if loc:
        assert info.value.errors()[0]["loc"][0] == loc


def test_default_options():
    options = GoalSuccessOptions()
    assert options.root_causes == list(DEFAULT_ROOT_CAUSES) and options.max_goals == 8
    assert options.codes() == dict(zip("ABCDEFGHI", (ACHIEVED, *DEFAULT_ROOT_CAUSES)))


def test_from_suite_is_refused():
    with pytest.raises(ValueError, match=SUITE_ERROR):
        PROTOCOL.from_suite({"prompt": "q"}, {"id": "x", "response": "r"})


# --- staged run with the scripted judge -----------------------------------------------------------

def test_staged_run_with_the_scripted_judge():
    """Plan, answer, parse and re-plan the way a worker does, then combine."""
    from service.config import JudgeConfig
    from workers.backends.scripted import ScriptedBackend

    marker = "<<scripted:A=0.25,E=0.75>> <<scripted-json:" + TWO_GOALS + ">>"
    conversation = [dict(CONVERSATION[0], content=CONVERSATION[0]["content"] + " " + marker), *CONVERSATION[1:]]
    item = make_item(conversation=conversation)
    options = GoalSuccessOptions(samples=3, temperature=0.7, seed=3)
    backend = ScriptedBackend(JudgeConfig(name="scripted", backend="scripted"))
    done: dict = {}
    for _ in range(4):
        todo = [c for c in PROTOCOL.plan_calls(item, options, list(done.values())) if (c.order, c.sample) not in done]
        if not todo:
            break
        for call, output in zip(todo, backend.generate([c.request for c in todo])):
            done[(call.order, call.sample)] = PROTOCOL.parse(call, output, options)
    assert sorted(done) == [("goal:g1", s) for s in range(3)] + [("goal:g2", s) for s in range(3)] + [
        (SEGMENT_ORDER, 0)]
    verdict = PROTOCOL.combine(item, list(done.values()), options)
    assert [g["p_achieved"] for g in verdict.details["goals"]] == pytest.approx([0.25, 0.25])
    assert [g["root_cause"] for g in verdict.details["goals"]] == ["retrieval_failure"] * 2
    assert verdict.score == 0.0 and verdict.outcome == "not_achieved"
