"""Every protocol end to end on the real vLLM CPU engine with the bundled model: gateway (uvicorn) →
Redis/RQ → one worker process → Postgres, on real public data from ../shared/data.

The bundled SmolLM2-135M judge is close to random, so these tests check that the pipeline is
right (calls, constrained outputs, probabilities, metrics computed from them), never that the
judge is right. One worker run judges all evaluations, so the engine starts once.
"""

from __future__ import annotations

import json

import httpx
import pytest

from service.core.protocols.goal_success.protocol import from_convlab, parse_segments
from tests.e2e.test_vllm_pipeline import auth, gateway, llmbar_items  # noqa: F401  (fixtures)
from tests.support import REPO, run_worker

pytestmark = pytest.mark.vllm
DATA = REPO.parent / "shared" / "data"
MT_BENCH_WITH_REFERENCE = (101, 102, 104, 107)


def mt_bench(ids=MT_BENCH_WITH_REFERENCE) -> list[tuple[dict, str]]:
    """(question, first-turn reference answer) for some MT-Bench questions."""
    lines = (DATA / "mt-bench" / "question.jsonl").read_text().splitlines()
    questions = {q["question_id"]: q for q in map(json.loads, lines)}
    lines = (DATA / "mt-bench" / "reference_answer.jsonl").read_text().splitlines()
    references = {r["question_id"]: r["choices"][0]["turns"][0] for r in map(json.loads, lines)}
    return [(questions[i], references[i]) for i in ids]


def bodies() -> dict[str, dict]:
    """One evaluation per protocol (pairwise with multiple evidence in rationale mode)."""
    questions = mt_bench()
    unrelated = "I like trains. They are fast and run on rails."
    return {
        "pairwise": {"protocol": "pairwise", "items": llmbar_items(2),
                     "options": {"samples": 2, "temperature": 0.7, "seed": 7, "verdict_mode": "rationale",
                                 "rationale_tokens": 32}},
        "rating": {"protocol": "rating", "items": [
            {"id": f"mt-{q['question_id']}", "prompt": q["turns"][0], "response": ref, "reference": ref,
             "human_score": 5} for q, ref in questions]},
        "href": {"protocol": "href", "baseline_model": "trains", "options": {"methods": {"reasoning": "embedding"}},
                 "items": [{"id": f"mt-{q['question_id']}", "prompt": q["turns"][0], "response": ref,
                            "baseline_response": unrelated, "human_reference": ref,
                            "category": "reasoning" if i % 2 else "math"} for i, (q, ref) in enumerate(questions)]},
        "answer_matching": {"protocol": "answer_matching", "items": [
            {"id": f"mt-{q['question_id']}", "question": q["turns"][0], "reference_answers": [ref],
             "response": ref if i % 2 else unrelated} for i, (q, ref) in enumerate(questions)]},
        "goal_success": {"protocol": "goal_success", "items": goal_items()},
    }


def goal_items() -> list[dict]:
    """Two dialogues with their annotated goal, one (SGD) without goals, so the judge segments it."""
    wanted = {"camrest": 9, "multiwoz21": 9, "sgd": 5}
    items = []
    for name, index in wanted.items():
        dialogue = json.loads((DATA / "goal-dialogues" / f"{name}.json").read_text())[index]
        items.append(from_convlab(dialogue))
    items[0]["human_labels"] = {"g1": {"achieved": True}}
    return items


def test_every_protocol_on_the_real_engine(gateway, auth, prod_settings):  # noqa: F811
    locations = {}
    for name, body in bodies().items():
        created = httpx.post(f"{gateway}/v1/evaluations", json={"judge": "embedded", "model": "m", **body},
                             headers=auth, timeout=30)
        assert created.status_code == 202, created.text
        locations[name] = gateway + created.headers["location"]

    worker = run_worker(prod_settings, "embedded", timeout=1500)
    assert worker.returncode == 0, worker.stderr[-4000:]

    results = {}
    for name, location in locations.items():
        evaluation = httpx.get(location, headers=auth, timeout=30).json()
        assert evaluation["status"] == "completed", (name, evaluation)
        verdicts = httpx.get(f"{location}/verdicts", params={"limit": 100}, headers=auth, timeout=30).json()["data"]
        results[name] = (evaluation, verdicts)
    check_pairwise_multiple_evidence(*results["pairwise"])
    check_rating(*results["rating"])
    check_href(*results["href"])
    check_answer_matching(*results["answer_matching"])
    check_goal_success(*results["goal_success"])


def judgments(verdicts):
    return [j for v in verdicts for j in v["judgments"]]


def check_pairwise_multiple_evidence(evaluation, verdicts):
    for verdict in verdicts:
        assert sorted((j["order"], j["sample"]) for j in verdict["judgments"]) == [
            ("ab", 0), ("ab", 1), ("ba", 0), ("ba", 1)]
    for judgment in judgments(verdicts):
        assert judgment["error"] is None and judgment["rationale"], judgment
        assert judgment["label"] in ("1", "2", "tie") and judgment["template"] == "pairwise/1"
    assert evaluation["summary"]["n_scored"] == 2
    assert evaluation["reliability"]["mean_bpde"] is not None


def check_rating(evaluation, verdicts):
    soft = []
    for verdict in verdicts:
        (judgment,) = verdict["judgments"]
        assert judgment["error"] is None and judgment["label"] in "12345", judgment
        probs = judgment["label_probs"]
        expected = sum(int(label) * p for label, p in probs.items())
        assert verdict["score"] == pytest.approx(expected), "the score is the expected value over score tokens"
        soft += [p for p in probs.values() if 1e-6 < p < 1 - 1e-6]
    assert soft, "score probabilities were all 0 or 1: logprobs were not used"
    summary = evaluation["summary"]
    assert summary["n_scored"] == 4 and 1 <= summary["mean_score"] <= 5
    assert summary["mean_score"] == pytest.approx(sum(v["score"] for v in verdicts) / 4)
    assert sum(summary["score_histogram"].values()) == 4 and summary["n_human_scored"] == 4


def check_href(evaluation, verdicts):
    for verdict in verdicts:
        orders = sorted(j["order"] for j in verdict["judgments"])
        if verdict["item_id"] in ("mt-102", "mt-107"):  # reasoning → the embedding model, no judge call
            assert orders == ["similarity"]
            (judgment,) = verdict["judgments"]
            similarity_a, similarity_b = json.loads(judgment["raw_output"])
            assert similarity_a == pytest.approx(1.0, abs=1e-4) and similarity_b < 0.5
            assert verdict["outcome"] == "a"
        else:
            assert orders == ["ab", "ba"] and all(j["template"] == "href/1" for j in verdict["judgments"])
    per_category = evaluation["summary"]["per_category"]
    assert per_category["reasoning"]["method"] == "embedding" and per_category["reasoning"]["win_rate"] == 1.0
    assert per_category["math"]["method"] == "judge_with_reference" and per_category["math"]["n"] == 2


def check_answer_matching(evaluation, verdicts):
    for verdict in verdicts:
        if verdict["item_id"] in ("mt-102", "mt-107"):  # the response is the reference: decided by rule
            assert verdict["judgments"] == [] and verdict["outcome"] == "match" and verdict["score"] == 1.0
        else:
            (judgment,) = verdict["judgments"]
            assert judgment["error"] is None and judgment["label"] in ("yes", "no"), judgment
            assert verdict["score"] == pytest.approx(judgment["label_probs"]["yes"])
    summary = evaluation["summary"]
    assert summary["n_rule"] == 2 and summary["n_judge"] == 2 and summary["n_scored"] == 4
    low, high = summary["accuracy_ci95"]
    assert low <= summary["accuracy"] <= high


def check_goal_success(evaluation, verdicts):
    by_id = {v["item_id"]: v for v in verdicts}
    for item_id in ("camrest-train-9", "multiwoz21-train-9"):  # goals given: one judge call per goal
        verdict = by_id[item_id]
        (judgment,) = verdict["judgments"]
        assert judgment["order"] == "goal:g1" and judgment["error"] is None, judgment
        assert abs(sum(judgment["label_probs"].values()) - 1) < 1e-6
        (goal,) = verdict["details"]["goals"]
        assert goal["achieved"] == (goal["p_achieved"] > 0.5)
    segmented = by_id["sgd-train-5"]
    segment = next(j for j in segmented["judgments"] if j["order"] == "segment")
    assert segment["error"] is None
    json.loads(segment["raw_output"])  # JSON-constrained output is valid JSON
    parsed = parse_segments(segment["raw_output"], 16, 8)
    goal_calls = sorted(j["order"] for j in segmented["judgments"] if j["order"].startswith("goal:"))
    assert goal_calls == sorted(f"goal:g{i + 1}" for i in range(len(parsed.goals)))
    assert segmented["unscored"] == (not parsed.goals)
    summary = evaluation["summary"]
    judged = [g for v in verdicts for g in v["details"].get("goals", []) if g.get("achieved") is not None]
    assert summary["n_goals"] >= 2 and summary["goal_success_rate"] == pytest.approx(
        sum(g["achieved"] for g in judged) / len(judged))
