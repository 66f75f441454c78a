"""The items whose outcome changed between two runs: the gate's counts and GET /v1/comparisons/items
(both runs' verdicts and responses, largest change first, category filter, cursor pages), against the
real Postgres with real scripted-judge workers.
"""

from __future__ import annotations

import uuid

import pytest

from service.db.engine import session_scope
from service.suites import repository as suites_repo
from tests.support import api_client, api_key, project_id, run_worker

N_ITEMS = 12
SUITE = "changes"


def make_suite(settings):
    """Baseline responses have 20 + i characters; odd items are writing, even ones math."""
    suite_id = str(uuid.uuid4())
    items = [{"suite_id": suite_id, "position": i, "item_key": f"q{i:02d}", "category": "writing" if i % 2 else "math",
              "payload": {"prompt": f"question {i}", "baseline_response": "b" * (20 + i)}} for i in range(N_ITEMS)]
    with session_scope(settings.database_url) as session:
        suites_repo.add_suite(session, {"id": suite_id, "project_id": project_id(settings), "name": SUITE,
                                        "version": 1, "description": None, "baseline_model": "ref",
                                        "n_items": N_ITEMS}, items)


# the scripted judge prefers the longer response: the baseline run ties everywhere (0.5); the candidate is
# longer on i % 3 == 0 (1.0, improved), shorter on i % 3 == 1 (0.0, regressed), the same on i % 3 == 2
def tie(i):
    return "a" * (20 + i)


def mixed(i):
    return {0: "c" * (40 + i), 1: "c" * 5, 2: "c" * (20 + i)}[i % 3]


IMPROVED = {f"q{i:02d}" for i in range(N_ITEMS) if i % 3 == 0}
REGRESSED = {f"q{i:02d}" for i in range(N_ITEMS) if i % 3 == 1}


def submit(client, body):
    created = client.post("/v1/evaluations", json=body)
    assert created.status_code == 202, created.text
    return created.json()["id"]


def completed(client, settings, judge, *evaluation_ids):
    """Run the judge's worker until its queue is empty; every evaluation has completed."""
    assert run_worker(settings, judge).returncode == 0
    for evaluation_id in evaluation_ids:
        assert client.get(f"/v1/evaluations/{evaluation_id}").json()["status"] == "completed"
    return evaluation_ids


def on_suite(client, model, responses):
    return submit(client, {"protocol": "pairwise", "judge": "scripted", "model": model, "suite": SUITE,
                           "items": [{"id": f"q{i:02d}", "response": responses(i)} for i in range(N_ITEMS)]})


def big_on_q05(i):  # q05 longer (0.5 → more), q07 shorter (0.5 → less): changes of equal size; the rest tie
    return "c" * (40 + i) if i == 5 else "c" * 5 if i == 7 else tie(i)


@pytest.fixture
def client(prod_settings):
    make_suite(prod_settings)
    with api_client(prod_settings) as test_client:
        yield test_client


@pytest.fixture
def runs(client, prod_settings):
    """(baseline, candidate, a run with two changes, a run on no suite), all completed by one worker."""
    return completed(client, prod_settings, "scripted", on_suite(client, "base", tie), on_suite(client, "cand", mixed),
                     on_suite(client, "two-changes", big_on_q05),
                     submit(client, {"protocol": "pairwise", "judge": "scripted", "model": "x", "items": [
                         {"id": "zz", "prompt": "p", "response_a": "a", "response_b": "b"}]}))


def items(client, baseline, candidate, **params):
    return client.get("/v1/comparisons/items", params={"baseline": baseline, "candidate": candidate, **params})


def test_changed_items_of_a_pairwise_suite(client, prod_settings, runs):
    baseline, candidate, two_changes, other = runs
    # the gate counts them
    gate = client.post("/v1/comparisons", json={"baseline_evaluation_id": baseline,
                                                "candidate_evaluation_id": candidate}).json()
    assert (gate["n_changed"], gate["n_improved"], gate["n_regressed"]) == (8, 4, 4)
    same = client.post("/v1/comparisons", json={"baseline_evaluation_id": baseline,
                                                "candidate_evaluation_id": baseline}).json()
    assert (same["n_changed"], same["n_improved"], same["n_regressed"]) == (0, 0, 0)

    # both runs' verdicts and responses
    page = items(client, baseline, candidate)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["n_changed"] == 8 and body["next_cursor"] is None and body["metric"] == "win_rate"
    assert body["categories"] == {"math": 4, "writing": 4}
    assert body["response_field"] == "response_a"  # the protocol's page view: the first compared response
    by_id = {row["item_id"]: row for row in body["data"]}
    assert {k for k, row in by_id.items() if row["change"] == "improved"} == IMPROVED
    assert {k for k, row in by_id.items() if row["change"] == "regressed"} == REGRESSED
    scores = {v["item_id"]: v["score"] for v in client.get(f"/v1/evaluations/{candidate}/verdicts").json()["data"]}
    for key, row in by_id.items():
        i = int(key[1:])
        assert row["category"] == ("writing" if i % 2 else "math")
        assert row["baseline"] == {"value": 0.5, "outcome": "tie", "score": 0.5, "response": tie(i)}
        assert row["candidate"] == {"value": scores[key], "outcome": "a" if key in IMPROVED else "b",
                                    "score": scores[key], "response": mixed(i)}
        assert row["difference"] == pytest.approx(scores[key] - 0.5)
        assert row["item"]["prompt"] == f"question {i}" and row["item"]["response_b"] == "b" * (20 + i)
    sizes = [abs(row["difference"]) for row in body["data"]]
    assert sizes == sorted(sizes, reverse=True)

    # the category filter
    math = items(client, baseline, candidate, category="math").json()
    assert {row["item_id"] for row in math["data"]} == {"q00", "q04", "q06", "q10"}
    assert math["n_changed"] == 4 and math["categories"] == {"math": 4, "writing": 4}
    assert items(client, baseline, candidate, category="nothing").json()["data"] == []
    regressed_math = items(client, baseline, candidate, category="math", change="regressed").json()
    assert {row["item_id"] for row in regressed_math["data"]} == {"q04", "q10"} and regressed_math["n_changed"] == 2
    improved = items(client, baseline, candidate, change="improved").json()
    assert {row["item_id"] for row in improved["data"]} == IMPROVED

    # cursor pages add up to the whole list
    seen, cursor = [], None
    while True:
        page = items(client, baseline, candidate, limit=3, **({"cursor": cursor} if cursor else {})).json()
        assert len(page["data"]) <= 3
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == body["data"]
    bad = items(client, baseline, candidate, cursor="not-a-cursor")
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/cursor"

    # changes of equal size come by item id; unchanged items are left out
    rows = items(client, baseline, two_changes).json()["data"]
    assert [(r["item_id"], r["change"]) for r in rows] == [("q05", "improved"), ("q07", "regressed")]

    # unknown, incomparable, unfinished, another project's
    missing = items(client, baseline, "no-such-evaluation")
    assert missing.status_code == 404 and "candidate" in missing.json()["detail"]
    refused = items(client, baseline, other)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["parameter"] == "candidate" and "suite differs" in refused.json()["detail"]
    queued = submit(client, {"protocol": "pairwise", "judge": "unserved", "model": "y", "suite": SUITE,
                             "items": [{"id": "q00", "response": "r"}]})
    unfinished = items(client, queued, candidate)
    assert unfinished.status_code == 422 and unfinished.json()["errors"][0]["parameter"] == "baseline"
    assert items(client, baseline, "").status_code == 422  # both ids are required
    elsewhere = client.get("/v1/comparisons/items", params={"baseline": baseline, "candidate": candidate},
                           headers={"Authorization": f"Bearer {api_key(prod_settings, 'elsewhere')}"})
    assert elsewhere.status_code == 404


def test_a_binary_metric_counts_outcomes(client, prod_settings):
    """Answer matching counts matches (1) and the rest (0): an item changes when its outcome does."""
    def body(model, wrong):
        return {"protocol": "answer_matching", "judge": "scripted", "model": model, "items": [
            {"id": f"m{i}", "question": f"What is {i} + {i}?", "reference_answers": [str(2 * i)],
             "response": f"{2 * i + 1} <<scripted:no=1>>" if i in wrong else str(2 * i)} for i in range(6)]}

    baseline, candidate = completed(client, prod_settings, "scripted", submit(client, body("base", wrong={0, 1})),
                                    submit(client, body("cand", wrong={1, 2, 3})))
    gate = client.post("/v1/comparisons", json={"baseline_evaluation_id": baseline,
                                                "candidate_evaluation_id": candidate}).json()
    assert (gate["n_changed"], gate["n_improved"], gate["n_regressed"]) == (3, 1, 2)
    page = items(client, baseline, candidate).json()
    assert page["response_field"] == "response"
    rows = {r["item_id"]: r for r in page["data"]}
    assert {k: r["change"] for k, r in rows.items()} == {"m0": "improved", "m2": "regressed", "m3": "regressed"}
    assert rows["m0"]["baseline"]["value"] == 0.0 and rows["m0"]["candidate"]["value"] == 1.0
    assert rows["m0"]["baseline"]["outcome"] != "match" and rows["m0"]["candidate"]["outcome"] == "match"
    assert rows["m2"]["baseline"]["response"] == "4" and rows["m2"]["candidate"]["response"].startswith("5 ")
    assert page["categories"] == {"": 3}
