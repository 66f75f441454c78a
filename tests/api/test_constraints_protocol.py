"""The constraints protocol through the REST API: IFEval's 541 prompts with written responses complete with no
judge call (embedded mode, and production mode on the real Postgres/Redis with a burst worker), the summary equals
IFEval's accuracies computed from the reference implementation's own results, bad items are refused by pointer,
judge constraints go to the judge, several responses are ranked, and a suite's evaluations meet in a comparison
(McNemar) and on its leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.config import Settings
from service.db.engine import dispose_all, session_scope
from service.models import Judgment
from tests.core.protocols.constraints import ifeval_responses
from tests.support import api_client, run_worker, wait_for

REFERENCE = Path(__file__).resolve().parents[1] / "core" / "protocols" / "constraints" / "ifeval_reference.json"


def reference_report(follow_rate: float) -> dict:
    """IFEval's report (evaluation_lib.print_report) from the reference implementation's stored results."""
    rows = [r for r in json.loads(REFERENCE.read_text(encoding="utf-8")) if r["follow_rate"] == follow_rate]
    prompts = {p["key"]: p for p in ifeval_responses.load_prompts()}
    strict = [s for r in rows for s in r["strict"]]
    loose = [s for r in rows for s in r["loose"]]
    per_type: dict[str, list[bool]] = {}
    for r in rows:
        for type_id, followed in zip(prompts[r["key"]]["instruction_id_list"], r["strict"]):
            per_type.setdefault(type_id, []).append(followed)
    return {
        "n": len(rows),
        "prompt_level_strict_acc": sum(all(r["strict"]) for r in rows) / len(rows),
        "inst_level_strict_acc": sum(strict) / len(strict),
        "prompt_level_loose_acc": sum(all(r["loose"]) for r in rows) / len(rows),
        "inst_level_loose_acc": sum(loose) / len(loose),
        "mean_csr": sum(sum(r["strict"]) / len(r["strict"]) for r in rows) / len(rows),
        "per_type": {t: sum(v) / len(v) for t, v in per_type.items()},
    }


def judgments(settings) -> int:
    with session_scope(settings.effective_database_url()) as session:
        return session.scalar(select(func.count()).select_from(Judgment))


def finished(client, location: str, timeout: float = 120) -> dict:
    return wait_for(lambda: (e := client.get(location).json())["status"] in ("completed", "failed") and e, timeout)


def assert_matches_reference(summary: dict, expected: dict) -> None:
    assert summary["n_items"] == summary["n_scored"] == expected["n"]
    for key in ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc",
                "mean_csr"):
        assert summary[key] == pytest.approx(expected[key]), key
    assert {t: a["strict_acc"] for t, a in summary["per_type"].items()} == pytest.approx(expected["per_type"])
    low, high = summary["mean_csr_ci95"]
    assert low < summary["mean_csr"] < high
    assert summary["n_judge_constraints"] == summary["n_judge_items"] == 0


@pytest.fixture
def embedded(tmp_path, judges_file):
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    with api_client(settings) as client:
        yield client, settings
    dispose_all()


def test_ifeval_541_prompts_complete_with_no_judge_call_in_embedded_mode(embedded):
    """The bundled judge ("embedded") is never built: every constraint is checked by program."""
    client, settings = embedded
    created = client.post("/v1/evaluations", json={"protocol": "constraints", "judge": "embedded", "model": "writer",
                                                   "items": ifeval_responses.items(0.7)})
    assert created.status_code == 202, created.text
    done = finished(client, created.headers["location"])
    assert done["status"] == "completed", done
    assert_matches_reference(done["summary"], reference_report(0.7))
    assert done["reliability"]["n_calls_scored"] == 0 and done["reliability"]["judge_constraint_rate"] == 0
    assert judgments(settings) == 0
    verdicts = client.get(f"{created.headers['location']}/verdicts", params={"limit": 5}).json()["data"]
    first = verdicts[0]
    assert first["judgments"] == [] and first["outcome"] in ("followed", "not_followed")
    result = first["details"]["result"]
    assert {"strict", "loose"} <= set(result["constraints"][0]) and result["csr"] == first["score"]


def test_ifeval_in_production_mode_completes_through_a_worker_with_no_judge_call(prod_settings):
    with api_client(prod_settings) as client:
        created = client.post("/v1/evaluations", json={"protocol": "constraints", "judge": "scripted",
                                                       "model": "writer", "items": ifeval_responses.items(0.3)})
        assert created.status_code == 202, created.text
        result = run_worker(prod_settings, "scripted")
        assert result.returncode == 0, result.stderr[-3000:]
        done = client.get(created.headers["location"]).json()
    assert done["status"] == "completed", done
    assert_matches_reference(done["summary"], reference_report(0.3))
    assert judgments(prod_settings) == 0


def test_bad_items_are_refused_by_pointer_and_nothing_is_stored(embedded):
    client, _ = embedded
    good = {"id": "ok", "prompt": "p", "response": "r", "instruction_id_list": ["punctuation:no_comma"]}
    items = [good | {"id": str(i)} for i in range(3)] + [
        good | {"id": "3", "instruction_id_list": ["punctuation:no_comma", "tone:polite"], "kwargs": [{}, {}]},
        good | {"id": "4", "instruction_id_list": ["keywords:letter_frequency"],
                "kwargs": [{"letter": "ab", "let_frequency": 2, "let_relation": "at least"}]},
        good | {"id": "5", "instruction_id_list": None, "constraints": [{"type": "judge"}]},
        good | {"id": "6", "instruction_id_list": None, "constraints": [{"type": "tone:polite", "level": 2}]},
    ]
    refused = client.post("/v1/evaluations", json={"protocol": "constraints", "judge": "scripted", "model": "m",
                                                   "items": items})
    assert refused.status_code == 422
    problems = {e["pointer"]: e["detail"] for e in refused.json()["errors"]}
    assert set(problems) == {"/items/3/instruction_id_list/1", "/items/4/kwargs/0", "/items/5/constraints/0",
                             "/items/6/constraints/0/type"}
    assert "unknown constraint type 'tone:polite'" in problems["/items/3/instruction_id_list/1"]
    assert "letter" in problems["/items/4/kwargs/0"] and "text" in problems["/items/5/constraints/0"]
    assert client.get("/v1/evaluations").json()["data"] == []


def test_judge_constraints_and_several_responses(embedded):
    """A free-text constraint is a yes/no judge call per response; responses are ranked by CSR."""
    client, settings = embedded
    polite = {"type": "judge", "text": "Is the response polite? <<scripted:yes=0.8,no=0.2>>"}
    item = {"id": "q1", "prompt": "Say hello without commas.", "constraints": [
        {"type": "punctuation:no_comma"}, polite, {"type": "keywords:existence", "keywords": ["hello"]}],
        "responses": [{"model": "a", "response": "Hello there"}, {"model": "b", "response": "Hi, there"},
                      {"model": "c", "response": "Hello, friend"}]}
    created = client.post("/v1/evaluations", json={"protocol": "constraints", "judge": "scripted", "model": "a",
                                                   "items": [item]})
    assert created.status_code == 202, created.text
    done = finished(client, created.headers["location"])
    assert done["status"] == "completed", done
    verdict = client.get(f"{created.headers['location']}/verdicts").json()["data"][0]
    assert sorted(j["order"] for j in verdict["judgments"]) == ["judge:0:1", "judge:1:1", "judge:2:1"]
    judged = verdict["details"]["result"]["constraints"][1]
    assert judged["method"] == "judge" and judged["p_yes"] == pytest.approx(0.8) and judged["strict"] is True
    ranks = {r["model"]: (r["csr"], r["rank"]) for r in verdict["details"]["responses"]}
    assert ranks == {"a": (1.0, 1), "b": (pytest.approx(1 / 3), 3), "c": (pytest.approx(2 / 3), 2)}
    assert {(p["a"], p["b"]): p["preference"] for p in verdict["details"]["preferences"]} == {
        ("a", "b"): 1.0, ("a", "c"): 1.0, ("b", "c"): 0.0}
    summary = done["summary"]
    assert summary["n_judge_constraints"] == 1 and summary["prompt_level_strict_acc"] == 1.0
    assert [m["model"] for m in summary["models"]] == ["a", "c", "b"]
    assert (summary["models"][0]["wins"], summary["models"][2]["losses"]) == (2, 2)
    assert judgments(settings) == 3


def test_a_suite_gives_the_prompts_and_its_evaluations_meet_in_the_gate_and_on_the_leaderboard(embedded):
    client, _ = embedded
    prompts = ifeval_responses.load_prompts()[:30]
    suite = client.post("/v1/suites", json={"name": "ifeval-mini", "items": [
        {"id": str(p["key"]), "prompt": p["prompt"]} for p in prompts]})
    assert suite.status_code == 201, suite.text

    def run(model: str, rate: float) -> dict:
        items = [{"id": str(p["key"]), "response": ifeval_responses.write_response(p, rate),
                  "instruction_id_list": p["instruction_id_list"], "kwargs": p["kwargs"]} for p in prompts]
        created = client.post("/v1/evaluations", json={"protocol": "constraints", "judge": "scripted", "model": model,
                                                       "suite": "ifeval-mini", "items": items})
        assert created.status_code == 202, created.text
        return finished(client, created.headers["location"])

    careful, careless = run("careful", 0.9), run("careless", 0.2)
    assert careful["summary"]["prompt_level_strict_acc"] > careless["summary"]["prompt_level_strict_acc"]
    gate = client.post("/v1/comparisons", json={"baseline_evaluation_id": careful["id"],
                                                "candidate_evaluation_id": careless["id"]}).json()
    assert gate["metric"] == "prompt_level_strict_acc" and "mcnemar" in gate["test"].lower() and gate["n_shared"] == 30
    board = wait_for(lambda: (r := client.get("/v1/leaderboards/ifeval-mini", params={
        "protocol": "constraints", "judge": "scripted"})).status_code == 200 and len(r.json()["rows"]) == 2 and r.json())
    assert [row["model"] for row in board["rows"]] == ["careful", "careless"]
    assert board["rows"][0]["value"] == pytest.approx(careful["summary"]["prompt_level_strict_acc"])
