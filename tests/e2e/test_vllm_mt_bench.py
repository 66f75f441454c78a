"""The bundled MT-Bench suite judged per turn on the real vLLM CPU engine with the bundled model: rating (every
turn graded, turn 2 over the whole conversation, references where the suite has them) and pairwise on
Arena-Hard's five-point scale (every turn compared in both orders) against baseline answers.

Small on purpose (three questions): the bundled SmolLM2-135M judge is close to random, so this checks the
pipeline (calls per turn, constrained labels, probabilities, per-turn metrics), never the judge's quality.
"""

from __future__ import annotations

import httpx
import pytest

from service.db.engine import session_scope
from service.suites import service as suites_service
from service.suites.examples import mt_bench
from tests.e2e.test_vllm_pipeline import auth, gateway  # noqa: F401  (fixtures)
from tests.support import project_id, run_worker

pytestmark = pytest.mark.vllm
# two questions with reference answers (reasoning, math) and one without (humanities)
QUESTIONS = ("mt-bench-104", "mt-bench-112", "mt-bench-152")
FIVE_POINT = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def responses(question) -> list[str]:
    """The reference answers where there are some, else short answers of our own."""
    return list(question.reference_turns or [f"A short answer to: {turn[:40]}" for turn in question.turns])


def test_mt_bench_per_turn_on_the_real_engine(gateway, auth, prod_settings):  # noqa: F811
    with session_scope(prod_settings.database_url) as session:
        suites_service.ensure_example_suites(session, project_id(prod_settings))
    questions = [q for q in mt_bench().items if q.id in QUESTIONS]
    version2 = {"name": "mt-bench", "baseline_model": "terse",
                "items": [{**q.model_dump(exclude_none=True), "baseline_responses": ["I do not know."] * 2}
                          for q in questions]}
    uploaded = httpx.post(f"{gateway}/v1/suites", json=version2, headers=auth, timeout=30)
    assert uploaded.status_code == 201, uploaded.text
    items = [{"id": q.id, "responses": responses(q)} for q in questions]
    bodies = {
        "rating": {"protocol": "rating", "suite": "mt-bench", "suite_version": 1, "items": items},
        "pairwise": {"protocol": "pairwise", "suite": "mt-bench", "items": items, "options": {"scale": 5}},
    }
    locations = {}
    for name, body in bodies.items():
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
    check_rating(*results["rating"])
    check_pairwise(*results["pairwise"])


def check_rating(evaluation, verdicts):
    for verdict in verdicts:
        by_turn = {j["order"]: j for j in verdict["judgments"]}
        assert sorted(by_turn) == ["turn1", "turn2"]
        for judgment in by_turn.values():
            assert judgment["error"] is None and judgment["label"] in "12345", judgment
        expected = [sum(int(label) * p for label, p in by_turn[f"turn{t}"]["label_probs"].items()) for t in (1, 2)]
        assert [t["score"] for t in verdict["details"]["turns"]] == pytest.approx(expected)
        assert verdict["score"] == pytest.approx(sum(expected) / 2), "the item is the mean of its turns"
    summary = evaluation["summary"]
    assert summary["n_scored"] == 3 and 1 <= summary["mean_score"] <= 5
    assert {turn: entry["n"] for turn, entry in summary["per_turn"].items()} == {"1": 3, "2": 3}
    assert sorted(summary["per_category"]) == ["humanities", "math", "reasoning"]


def check_pairwise(evaluation, verdicts):
    for verdict in verdicts:
        assert sorted(j["order"] for j in verdict["judgments"]) == ["ab", "ab.t2", "ba", "ba.t2"]
        for judgment in verdict["judgments"]:
            assert judgment["error"] is None and judgment["label"] in FIVE_POINT, judgment
            assert judgment["template"] == "pairwise-scale5/1"
        battle = verdict["details"]["battle"]
        assert 0.0 <= battle["score"] <= 1.0 and 1.0 <= battle["weight"] <= 3.0
        assert [t["turn"] for t in verdict["details"]["turns"]] == [1, 2]
    summary = evaluation["summary"]
    assert summary["n_scored"] == 3 and 0.0 <= summary["weighted_win_rate"] <= 1.0
    assert {turn: entry["n"] for turn, entry in summary["per_turn"].items()} == {"1": 3, "2": 3}
    assert evaluation["reliability"]["position_consistency_rate"] is not None
