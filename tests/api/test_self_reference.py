"""Self-reference judging through the API, a real worker process and Postgres, with the scripted judge.

The scripted judge answers the self-answer call (a JSON-constrained request) with the ``<<scripted-json:...>>``
marker in the item's prompt, and every verdict (preferring the longer response) with "Scripted rationale." as
its critique. Stage 1 is one call per item, shared by both orders and both samples; stage 2's prompts show
the judge's answer (checked against the prompt hashes the core renders); a re-run is answered by the cache.
"""

from __future__ import annotations

import pytest

from service.core.judging import JudgeOutput
from service.core.protocol import get_protocol
from service.core.self_reference import SELF_ANSWER_ORDER
from tests.support import api_client, run_worker

OPTIONS = {"self_reference": True, "samples": 2, "temperature": 0.7, "seed": 11, "rationale_tokens": 32}
ANSWERS = {"q1": "Paris.", "q2": "2 + 2 = 4."}
ITEMS = [
    {"id": "q1", "prompt": 'Capital of France? <<scripted-json:{"answer": "Paris."}>>',
     "response_a": "Paris is the capital of France.", "response_b": "Lyon"},
    {"id": "q2", "prompt": 'Two plus two? <<scripted-json:{"answer": "2 + 2 = 4."}>>',
     "response_a": "5", "response_b": "It is four, of course."},
    {"id": "ref", "prompt": "Largest planet?", "reference": "Jupiter",
     "response_a": "Jupiter", "response_b": "Saturn, surely"},
]
STAGE2 = [("ab", 0), ("ab", 1), ("ba", 0), ("ba", 1)]


@pytest.fixture
def settings(prod_settings):
    return prod_settings.model_copy(update={"embedding_model": "lexical"})


@pytest.fixture
def client(settings):
    with api_client(settings) as test_client:
        yield test_client


def run(client, settings, body):
    response = client.post("/v1/evaluations", json={"judge": "scripted", "model": "m", **body})
    assert response.status_code == 202, response.text
    assert run_worker(settings, "scripted").returncode == 0
    evaluation = client.get(response.headers["location"]).json()
    assert evaluation["status"] == "completed", evaluation
    verdicts = client.get(f"{response.headers['location']}/verdicts", params={"limit": 100}).json()["data"]
    return evaluation, {v["item_id"]: v for v in verdicts}


def expected_stage2_hashes(protocol_name, item, options, answer_json):
    """The prompt hashes of the verdict calls the core renders once it has the judge's answer."""
    protocol = get_protocol(protocol_name)
    parsed, opts = protocol.item_model.model_validate(item), protocol.options_model.model_validate(options)
    (first,) = protocol.plan_calls(parsed, opts)
    prior = [protocol.parse(first, JudgeOutput(text=answer_json), opts)]
    return {(c.order, c.sample): c.request.prompt_hash() for c in protocol.plan_calls(parsed, opts, prior)
            if c.order != SELF_ANSWER_ORDER}


def keys(verdict):
    return sorted((j["order"], j["sample"]) for j in verdict["judgments"])


def test_pairwise_self_reference_in_both_orders_with_two_samples_and_the_cache(client, settings):
    body = {"protocol": "pairwise", "items": ITEMS, "options": OPTIONS}
    evaluation, verdicts = run(client, settings, body)
    assert evaluation["summary"]["n_scored"] == 3
    for item in ITEMS[:2]:
        verdict = verdicts[item["id"]]
        assert keys(verdict) == [*STAGE2, (SELF_ANSWER_ORDER, 0)], "stage 1 once, shared by both orders and samples"
        judgments = {(j["order"], j["sample"]): j for j in verdict["judgments"]}
        first = judgments[(SELF_ANSWER_ORDER, 0)]
        assert (first["label"], first["template"], first["error"]) == ("answered", "self_answer/1", None)
        answer_json = first["raw_output"]
        hashes = expected_stage2_hashes("pairwise", item, OPTIONS, answer_json)
        assert {k: judgments[k]["prompt_hash"] for k in STAGE2} == hashes, "every verdict call saw the answer"
        assert all(judgments[k]["rationale"] == "Scripted rationale." for k in STAGE2)
        record = verdict["details"]["self_reference"]
        assert record["status"] == "ok" and record["answer"] == ANSWERS[item["id"]]
        assert [(c["order"], c["sample"], c["critique"]) for c in record["critiques"]] == [
            (o, s, "Scripted rationale.") for o, s in STAGE2]
        assert [c["order"] for c in verdict["details"]["calls"]].count(SELF_ANSWER_ORDER) == 0
    assert (verdicts["q1"]["outcome"], verdicts["q2"]["outcome"]) == ("a", "b")  # the longer response wins
    reference = verdicts["ref"]
    assert keys(reference) == STAGE2 and reference["details"]["self_reference"]["status"] == "skipped"
    assert evaluation["reliability"]["position_consistency_rate"] == 1.0

    again, reverdicts = run(client, settings, body)
    assert all(j["cached"] for v in reverdicts.values() for j in v["judgments"]), "a re-run makes no engine call"
    assert sum(len(v["judgments"]) for v in reverdicts.values()) == 14
    assert {k: (v["outcome"], v["score"]) for k, v in reverdicts.items()} == {
        k: (v["outcome"], v["score"]) for k, v in verdicts.items()}
    assert reverdicts["q1"]["details"]["self_reference"] == verdicts["q1"]["details"]["self_reference"]


def test_href_force_adds_the_judges_answer_on_judged_categories_only(client, settings):
    items = [{"id": "judged", "prompt": 'Add 2 and 2. <<scripted-json:{"answer": "4"}>>', "category": "math",
              "response": "The sum is 4.", "baseline_response": "5", "human_reference": "4"},
             {"id": "embedded", "prompt": "Who wrote Hamlet?", "category": "open qa",
              "response": "Shakespeare", "baseline_response": "Marlowe", "human_reference": "Shakespeare"}]
    _, verdicts = run(client, settings, {"protocol": "href", "baseline_model": "b", "items": items,
                                         "options": {"self_reference": "force"}})
    judged = verdicts["judged"]
    assert keys(judged) == [("ab", 0), ("ba", 0), (SELF_ANSWER_ORDER, 0)]
    assert judged["details"]["self_reference"]["answer"] == "4" and judged["outcome"] == "a"
    assert all(j["rationale"] == "Scripted rationale." for j in judged["judgments"] if j["order"] != SELF_ANSWER_ORDER)
    assert keys(verdicts["embedded"]) == [("similarity", 0)]
    assert "self_reference" not in verdicts["embedded"]["details"]


def test_an_unreadable_self_answer_leaves_the_item_unscored_saying_why(client, settings):
    item = {"id": "x", "prompt": "no marker: the scripted judge answers {}", "response_a": "a", "response_b": "bb"}
    evaluation, verdicts = run(client, settings, {"protocol": "pairwise", "items": [item],
                                                  "options": {"self_reference": True}})
    verdict = verdicts["x"]
    assert keys(verdict) == [(SELF_ANSWER_ORDER, 0)] and verdict["unscored"] and not verdict["failed"]
    assert verdict["details"]["self_reference"]["status"] == "unreadable"
    assert evaluation["summary"]["n_unscored"] == 1


@pytest.mark.parametrize(("body", "pointer"), [
    ({"options": {"self_reference": "always"}, "items": ITEMS[:1]}, "/options/self_reference"),
    ({"options": {"self_reference": True}, "items": [
        {"id": "m", "turns": ["q1", "q2"], "responses_a": ["a1", "a2"], "responses_b": ["b1", "b2"]}]},
     "/items/0/turns"),
])
def test_bad_self_reference_requests_are_refused_naming_the_field(client, body, pointer):
    response = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m", **body})
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]], response.json()
