"""The human review queue through the REST API, on real Postgres/Redis with a real worker process."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support import api_client, run_worker

N_ITEMS = 10


def body(review_fraction=0.3):
    items = [{"id": f"item-{i}", "prompt": f"question {i}", "response_a": f"answer a {i}",
              "response_b": f"answer b {i}", "human_label": "a"} for i in range(N_ITEMS)]
    return {"protocol": "pairwise", "judge": "scripted-first", "model": "candidate", "items": items,
            "options": {"review_fraction": review_fraction}}


@pytest.fixture
def client(prod_settings):
    with api_client(prod_settings) as test_client:
        yield test_client


@pytest.fixture
def judged(client, prod_settings):
    """A completed evaluation judged by the position-biased scripted judge, and its verdicts."""
    evaluation_id = client.post("/v1/evaluations", json=body()).json()["id"]
    assert run_worker(prod_settings, "scripted-first").returncode == 0
    verdicts = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"limit": 100}).json()["data"]
    return evaluation_id, {v["item_id"]: v for v in verdicts}


def test_queue_holds_the_top_bpde_share_highest_first(client, judged):
    evaluation_id, verdicts = judged
    ranked = sorted((v for v in verdicts.values() if v["bpde"] > 0), key=lambda v: (-v["bpde"], v["position"]))
    expected = {v["item_id"] for v in ranked[:3]}
    assert len(expected) == 3, "the scripted judge should disagree with itself on at least 3 of 10 items"
    page = client.get("/v1/reviews", params={"status": "open", "evaluation_id": evaluation_id}).json()
    assert {r["item_id"] for r in page["data"]} == expected
    assert [r["bpde"] for r in page["data"]] == sorted((r["bpde"] for r in page["data"]), reverse=True)
    assert all(sorted(j["order"] for j in r["judgments"]) == ["ab", "ba"] for r in page["data"])
    assert all(r["item"]["prompt"].startswith("question") for r in page["data"])
    assert {k for k, v in verdicts.items() if v["needs_review"]} == expected
    evaluation = client.get(f"/v1/evaluations/{evaluation_id}").json()
    assert evaluation["reviews"] == {"open": 3, "done": 0}
    assert evaluation["summary"]["n_reviews_open"] == 3


def test_keyset_pages_cover_the_queue_once(client, judged):
    evaluation_id, _ = judged
    seen, cursor = [], None
    while True:
        params = {"evaluation_id": evaluation_id, "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/reviews", params=params).json()
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 3


def test_status_all_lists_open_and_done_reviews(client, judged):
    evaluation_id, _ = judged
    first = client.get("/v1/reviews", params={"evaluation_id": evaluation_id}).json()["data"][0]
    assert client.post(f"/v1/reviews/{first['id']}", json={"label": "b", "reviewer": "me"}).status_code == 200
    listed = {status: client.get("/v1/reviews", params={"evaluation_id": evaluation_id, "status": status}).json()["data"]
              for status in ("open", "done", "all")}
    assert [r["id"] for r in listed["done"]] == [first["id"]] and len(listed["open"]) == 2
    assert sorted(r["id"] for r in listed["all"]) == sorted(r["id"] for r in listed["open"] + listed["done"])
    bad = client.get("/v1/reviews", params={"status": "closed"})
    assert bad.status_code == 422 and "status" in bad.text


def test_a_human_label_replaces_the_verdict_and_metrics_are_recomputed(client, judged):
    evaluation_id, verdicts = judged
    before = client.get(f"/v1/evaluations/{evaluation_id}").json()
    review = client.get("/v1/reviews", params={"evaluation_id": evaluation_id}).json()["data"][0]
    response = client.post(f"/v1/reviews/{review['id']}", json={"label": "a", "reviewer": "alice", "note": "A is right"})
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "done" and done["label"] == {"label": "a"} and done["reviewer"] == "alice"
    assert done["reviewed_at"] is not None

    after = client.get(f"/v1/evaluations/{evaluation_id}").json()
    scores = {k: v["score"] for k, v in verdicts.items()} | {review["item_id"]: 1.0}
    assert after["summary"]["win_rate"] == pytest.approx(sum(scores.values()) / N_ITEMS)
    assert after["summary"]["win_rate"] > before["summary"]["win_rate"]
    assert after["reviews"] == {"open": 2, "done": 1} and after["summary"]["n_reviews_open"] == 2
    assert after["summary"]["n_reviewed"] == 1 and after["reliability"]["n_reviewed"] == 1
    assert after["reliability"]["human_agreement"] == after["summary"]["human_agreement"]
    agreement = after["summary"]["human_agreement"]
    judge_correct = sum(v["outcome"] == "a" for v in verdicts.values())
    assert agreement["calibrated"]["accuracy"] == pytest.approx(judge_correct / N_ITEMS)
    assert agreement["after_review"]["accuracy"] == pytest.approx((judge_correct + 1) / N_ITEMS)
    # Scott's pi of the judge's own outcomes against the human labels (all "a"): chance from the pooled shares
    pooled = Counter(v["outcome"] for v in verdicts.values()) + Counter({"a": N_ITEMS})
    chance = sum((count / (2 * N_ITEMS)) ** 2 for count in pooled.values())
    expected_pi = (judge_correct / N_ITEMS - chance) / (1 - chance)
    assert agreement["calibrated"]["scott_pi"] == after["summary"]["judge_scott_pi"] == pytest.approx(expected_pi)
    # the judge's reliability is the judge's: a human label does not change it
    assert after["reliability"]["position_consistency_rate"] == before["reliability"]["position_consistency_rate"]

    page = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"limit": 100}).json()["data"]
    changed = next(v for v in page if v["item_id"] == review["item_id"])
    assert changed["outcome"] == "a" and changed["score"] == 1.0 and changed["reviewed"] is True
    listed = client.get("/v1/reviews", params={"status": "done", "evaluation_id": evaluation_id}).json()["data"]
    assert [r["id"] for r in listed] == [review["id"]]


@pytest.mark.parametrize("label, pointer", [
    ({"label": "maybe", "reviewer": "bob"}, "/label"),
    ({"reviewer": "bob"}, "/label"),
    ({"label": "a", "reviewer": "bob", "score": 3}, "/score"),
    ({"label": "a"}, "/reviewer"),
])
def test_bad_labels_are_rejected_naming_the_field_and_change_nothing(client, judged, label, pointer):
    evaluation_id, _ = judged
    before = client.get(f"/v1/evaluations/{evaluation_id}").json()
    review = client.get("/v1/reviews", params={"evaluation_id": evaluation_id}).json()["data"][0]
    response = client.post(f"/v1/reviews/{review['id']}", json=label)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in response.json()["errors"]], response.json()
    assert client.get(f"/v1/evaluations/{evaluation_id}").json()["summary"] == before["summary"]
    assert client.get(f"/v1/reviews/{review['id']}").json()["status"] == "open"


def test_unknown_review_is_404(client):
    assert client.post("/v1/reviews/nope", json={"label": "a", "reviewer": "x"}).status_code == 404
    assert client.get("/v1/reviews/nope").status_code == 404


def test_another_projects_review_is_404_and_never_locked(client, judged, prod_settings):
    """A key of another project can neither label a review nor hold its row lock while it is told 404."""
    from sqlalchemy import text

    from service.db.engine import session_scope
    from service.reviews import repository
    from tests.support import project_id

    evaluation_id, _ = judged
    review = client.get("/v1/reviews", params={"evaluation_id": evaluation_id}).json()["data"][0]
    with api_client(prod_settings, "intruder") as intruder:
        response = intruder.post(f"/v1/reviews/{review['id']}", json={"label": "b", "reviewer": "x"})
    assert response.status_code == 404
    with session_scope(prod_settings.database_url) as intruding:
        assert repository.lock_review(intruding, project_id(prod_settings, "intruder"), review["id"]) is None
        with session_scope(prod_settings.database_url) as owner:  # NOWAIT: fails at once if the row is locked
            locked = owner.execute(text("SELECT id FROM reviews WHERE id = :id FOR UPDATE NOWAIT"),
                                   {"id": review["id"]}).scalar_one()
    assert locked == review["id"]
    assert client.get(f"/v1/reviews/{review['id']}").json()["status"] == "open"
