"""Every protocol through the API, a real worker process and Postgres, with scripted judges of known behaviour."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.db.engine import session_scope
from service.models import Evaluation, Item
from tests.support import api_client, run_worker, wait_for


@pytest.fixture
def settings(prod_settings):
    return prod_settings.model_copy(update={"embedding_model": "lexical"})


@pytest.fixture
def client(settings):
    with api_client(settings) as test_client:
        yield test_client


def run(client, settings, body, judge="scripted"):
    response = client.post("/v1/evaluations", json=body)
    assert response.status_code == 202, response.text
    assert run_worker(settings, judge).returncode == 0
    evaluation = client.get(response.headers["location"]).json()
    assert evaluation["status"] == "completed", evaluation
    verdicts = client.get(f"{response.headers['location']}/verdicts", params={"limit": 100}).json()["data"]
    return evaluation, {v["item_id"]: v for v in verdicts}


def stored(settings) -> tuple[int, int]:
    with session_scope(settings.database_url) as session:
        return (session.scalar(select(func.count()).select_from(Evaluation)),
                session.scalar(select(func.count()).select_from(Item)))


def test_rating_scores_are_expected_values_over_score_probabilities(client, settings):
    marks = ["<<scripted:4=0.8,5=0.2>>", "<<scripted:1=0.5,2=0.5>>", "<<scripted:3=1>>"]
    items = [{"id": f"r{i}", "prompt": f"question {i}", "response": f"answer {mark}", "human_score": 4 - i}
             for i, mark in enumerate(marks)]
    evaluation, verdicts = run(client, settings, {"protocol": "rating", "judge": "scripted", "model": "m",
                                                  "items": items})
    assert [verdicts[f"r{i}"]["score"] for i in range(3)] == pytest.approx([4.2, 1.5, 3.0])
    summary = evaluation["summary"]
    assert summary["metric"] == "mean_score" and summary["mean_score"] == pytest.approx((4.2 + 1.5 + 3.0) / 3)
    low, high = summary["mean_score_ci95"]
    assert low <= summary["mean_score"] <= high
    assert sum(summary["score_histogram"].values()) == 3
    assert summary["pearson_r"] is not None and summary["spearman_rho"] is not None
    judgment = verdicts["r0"]["judgments"][0]
    assert judgment["template"] == "rating/1" and judgment["label"] == "4"


def test_href_picks_the_method_per_category(client, settings):
    reference = "Paris is the capital of France"
    items = [
        {"id": "qa", "prompt": "Capital of France?", "category": "Open QA", "response": "Paris is the capital of France",
         "baseline_response": "It is Lyon, I think", "human_reference": reference},
        {"id": "brainstorm", "prompt": "Ideas?", "category": "Brainstorm", "response": "one two three four",
         "baseline_response": "one", "human_reference": "a b c"},
        {"id": "coding", "prompt": "Code?", "category": "Coding", "response": "x",
         "baseline_response": "a much longer answer", "human_reference": "print(1)"},
    ]
    evaluation, verdicts = run(client, settings, {"protocol": "href", "judge": "scripted", "model": "m",
                                                  "baseline_model": "base", "items": items})
    assert [j["order"] for j in verdicts["qa"]["judgments"]] == ["similarity"]
    assert verdicts["qa"]["outcome"] == "a"  # the response equal to the human reference is the more similar
    assert sorted(j["order"] for j in verdicts["brainstorm"]["judgments"]) == ["ab", "ba"]
    assert verdicts["brainstorm"]["outcome"] == "a" and verdicts["coding"]["outcome"] == "b"  # the longer wins
    per_category = evaluation["summary"]["per_category"]
    assert {name: c["method"] for name, c in per_category.items()} == {
        "Open QA": "embedding", "Brainstorm": "judge", "Coding": "judge_with_reference"}
    assert evaluation["summary"]["win_rate"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("body, pointer", [
    ({"protocol": "rating", "items": [{"id": "x", "prompt": "q"}]}, "/items/0/response"),
    ({"protocol": "rating", "items": [{"id": "x", "prompt": "q", "response": "r", "human_score": 9}]},
     "/items/0/human_score"),
    ({"protocol": "href", "options": {"default_method": None},
      "items": [{"id": "x", "prompt": "q", "category": "Poetry", "response": "r", "baseline_response": "b",
                 "human_reference": "h"}]}, "/items/0/category"),
    ({"protocol": "answer_matching", "items": [{"id": "x", "question": "q", "response": "r"}]},
     "/items/0/reference_answers"),
    ({"protocol": "answer_matching", "items": [{"id": "x", "question": "q", "response": "r",
                                                "reference_answers": []}]}, "/items/0/reference_answers"),
    ({"protocol": "goal_success", "items": [{"id": "x", "conversation": [{"role": "assistant", "content": "hi"}]}]},
     "/items/0/conversation"),
])
def test_bad_items_are_rejected_naming_item_and_field_and_nothing_is_stored(client, settings, body, pointer):
    response = client.post("/v1/evaluations", json={"judge": "scripted", "model": "m", **body})
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]], response.json()
    assert stored(settings) == (0, 0)


@pytest.mark.parametrize("protocol, item", [
    ("pairwise", {"id": "p", "prompt": "q", "response_a": "long answer", "response_b": "short"}),
    ("rating", {"id": "r", "prompt": "q", "response": "answer <<scripted:4=0.6,5=0.4>>"}),
])
def test_several_samples_give_their_evidence_first_and_logprobs_samples_are_refused(client, settings, protocol, item):
    """Multiple Evidence Calibration: each of k samples reasons before its verdict (default when samples > 1)."""
    base = {"protocol": protocol, "judge": "scripted", "model": "m", "items": [item]}
    refused = client.post("/v1/evaluations", json={**base, "options": {"samples": 3, "verdict_mode": "logprobs"}})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert error["pointer"] == "/options/verdict_mode" and "samples > 1" in error["detail"]
    assert stored(settings) == (0, 0)

    evaluation, verdicts = run(client, settings, {**base, "options": {"samples": 3, "seed": 2}})
    assert evaluation["options"]["verdict_mode"] == "rationale"
    judgments = verdicts[item["id"]]["judgments"]
    assert len(judgments) == 3 * (2 if protocol == "pairwise" else 1)
    assert all(j["rationale"] == "Scripted rationale." for j in judgments)


def test_answer_matching_rule_first_then_judge_and_unscored_apart(client, settings):
    items = [
        {"id": "rule", "question": "6 x 7?", "response": "The answer is 42.", "reference_answers": ["42"]},
        {"id": "numeric", "question": "pi?", "response": "about 3.1416", "reference_answers": ["3.14159"],
         "answer_type": "numeric", "tolerance": 0.001},
        {"id": "judged-yes", "question": "Capital?", "response": "It's Paris <<scripted:yes=0.9,no=0.1>>",
         "reference_answers": ["Paris"]},
        {"id": "judged-no", "question": "Capital?", "response": "Lyon <<scripted:yes=0.2,no=0.8>>",
         "reference_answers": ["Paris"]},
        {"id": "broken", "question": "Capital?", "response": "FAIL-ME", "reference_answers": ["Paris"]},
    ]
    evaluation, verdicts = run(client, settings, {"protocol": "answer_matching", "judge": "scripted-flaky",
                                                  "model": "m", "items": items}, judge="scripted-flaky")
    assert verdicts["rule"]["judgments"] == [] and verdicts["rule"]["outcome"] == "match"
    assert verdicts["numeric"]["judgments"] == [] and verdicts["numeric"]["outcome"] == "match"
    assert verdicts["judged-yes"]["outcome"] == "match" and verdicts["judged-yes"]["score"] == pytest.approx(0.9)
    assert verdicts["judged-no"]["outcome"] == "no_match"
    assert verdicts["broken"]["failed"] is True and verdicts["broken"]["unscored"] is False
    summary = evaluation["summary"]
    assert summary["accuracy"] == pytest.approx(3 / 4) and summary["n_scored"] == 4
    # the item whose judge call failed is reported apart as failed (not unscored), never as wrong
    assert (summary["n_unscored"], summary["n_failed"]) == (0, 1) and summary["n_rule"] == 2
    low, high = summary["accuracy_ci95"]
    assert low < 0.75 < high


def test_goal_success_segments_then_judges_each_goal(client, settings):
    segments = '{"goals": [{"description": "book a table", "start_turn": 0, "end_turn": 1}, ' \
               '{"description": "get the address", "start_turn": 2, "end_turn": 3}]}'
    conversation = [
        {"role": "user", "content": f"Book me a table. <<scripted-json:{segments}>> <<scripted:B=0.7,A=0.3>>"},
        {"role": "assistant", "content": "Which restaurant?"},
        {"role": "user", "content": "And the address?"},
        {"role": "assistant", "content": "Main Street 1."},
    ]
    given = [{"role": "user", "content": "Find a taxi <<scripted:A=0.9,B=0.1>>"},
             {"role": "assistant", "content": "Booked."}]
    items = [{"id": "segmented", "conversation": conversation},
             {"id": "given", "conversation": given, "goals": [{"id": "taxi", "description": "book a taxi"}],
              "human_labels": {"taxi": {"achieved": True}}}]
    evaluation, verdicts = run(client, settings, {"protocol": "goal_success", "judge": "scripted", "model": "m",
                                                  "items": items})
    segmented = verdicts["segmented"]
    assert sorted(j["order"] for j in segmented["judgments"]) == ["goal:g1", "goal:g2", "segment"]
    assert [g["achieved"] for g in segmented["details"]["goals"]] == [False, False]
    assert {g["root_cause"] for g in segmented["details"]["goals"]} == {"misunderstood_intent"}
    assert [j["order"] for j in verdicts["given"]["judgments"]] == ["goal:taxi"]
    summary = evaluation["summary"]
    assert summary["n_goals"] == 3 and summary["goal_success_rate"] == pytest.approx(1 / 3)
    assert summary["root_causes"]["counts"]["misunderstood_intent"] == 2


def test_answer_matching_on_a_suite_with_a_leaderboard_and_a_gate(client, settings):
    suite = {"name": "facts", "items": [{"id": f"q{i}", "prompt": f"What is {i} + {i}?", "reference": str(2 * i)}
                                        for i in range(12)]}
    assert client.post("/v1/suites", json=suite).status_code == 201

    def submit(model, wrong):
        items = [{"id": f"q{i}", "response": f"It is {2 * i + 1} <<scripted:yes=0.1,no=0.9>>" if i < wrong
                  else f"The answer is {2 * i}."} for i in range(12)]
        body = {"protocol": "answer_matching", "judge": "scripted", "model": model, "suite": "facts", "items": items}
        response = client.post("/v1/evaluations", json=body)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    good, bad = submit("good", wrong=0), submit("bad", wrong=10)
    assert run_worker(settings, "scripted").returncode == 0
    summaries = {e: client.get(f"/v1/evaluations/{e}").json()["summary"] for e in (good, bad)}
    assert summaries[good]["accuracy"] == 1.0 and summaries[good]["n_rule"] == 12
    assert summaries[bad]["accuracy"] == pytest.approx(2 / 12) and summaries[bad]["n_judge"] == 10

    gate = client.post("/v1/comparisons", json={"baseline_evaluation_id": good, "candidate_evaluation_id": bad})
    assert gate.status_code == 200, gate.text
    result = gate.json()
    assert result["test"] == "mcnemar_exact" and result["decision"] == "fail"
    assert result["difference"] == pytest.approx(-10 / 12)

    def board():
        response = client.get("/v1/leaderboards/facts", params={"protocol": "answer_matching", "judge": "scripted"})
        return response.json() if response.status_code == 200 and len(response.json()["rows"]) == 2 else None

    rows = {r["model"]: r for r in wait_for(board, timeout=30)["rows"]}
    assert rows["good"]["metric"] == "accuracy" and rows["good"]["value"] == 1.0
    assert rows["bad"]["ci95"][0] < rows["bad"]["value"] < rows["bad"]["ci95"][1]
