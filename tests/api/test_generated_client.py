"""A Python client generated from /openapi.json by openapi-python-client (PyPI) is typed and works.

The generator reads only the document, so what it makes is what any user's generator sees: a pairwise
item must be a class with ``response_a``, a leaderboard row must have ``value``, ``ci95`` and ``elo``,
and the generated calls must submit an evaluation and read it and its leaderboard back as typed objects.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from service.config import Settings
from tests.support import api_client, wait_for

PACKAGE = "judgeserve_generated"
CONFIG = f"post_hooks: []\nproject_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"


@pytest.fixture
def live(tmp_path, judges_file):
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    with api_client(settings) as client:
        yield client


@pytest.fixture
def generated(live, tmp_path):
    """The generated package, imported from a temporary folder."""
    (tmp_path / "openapi.json").write_text(json.dumps(live.get("/openapi.json").json()), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json", "--config",
         "config.yaml", "--meta", "none", "--output-path", str(tmp_path / "gen" / PACKAGE)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path / "gen"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path / "gen"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def field_names(model_class) -> set[str]:
    return {field.name for field in attrs.fields(model_class)}


def test_the_generated_models_are_typed_per_protocol(generated):
    models = importlib.import_module(f"{PACKAGE}.models")
    assert {"id", "prompt", "response_a", "response_b", "human_label"} <= field_names(models.PairwiseItem)
    assert {"question", "response", "reference_answers"} <= field_names(models.AnswerMatchingItem)
    assert {"orders", "samples", "tie_margin", "verdict_mode"} <= field_names(models.PairwiseOptions)
    assert {"win_rate", "win_rate_ci95", "lc_win_rate"} <= field_names(models.PairwiseEvaluationSummary)
    assert {"value", "ci95", "elo", "n", "model"} <= field_names(models.LeaderboardRow)
    assert [e.value for e in models.PairwiseOptionsOrders] == ["both", "single"]
    assert {e.value for e in models.PairwiseEvaluationStatus} == {"queued", "running", "completed", "failed",
                                                                  "cancelled"}


def test_the_generated_client_submits_and_reads_back_typed_results(generated, live):
    models = importlib.import_module(f"{PACKAGE}.models")
    create = importlib.import_module(f"{PACKAGE}.api.evaluations.create_evaluation")
    read = importlib.import_module(f"{PACKAGE}.api.evaluations.get_evaluation")
    leaderboard = importlib.import_module(f"{PACKAGE}.api.leaderboards.get_leaderboard")
    client = generated.AuthenticatedClient(base_url="http://testserver", token="unused")
    client.set_httpx_client(live)  # the running app; its own Authorization header carries the key

    suite = live.post("/v1/suites", json={"name": "gen", "baseline_model": "base", "items": [
        {"id": f"q{i}", "prompt": f"Question {i}?", "baseline_response": "ok"} for i in range(4)]})
    assert suite.status_code == 201, suite.text
    body = models.PairwiseEvaluationCreate(
        protocol="pairwise", judge="scripted", model="gen-model", suite="gen",
        items=[models.PairwiseSuiteItem(id=f"q{i}", response="a longer answer") for i in range(4)],
        options=models.PairwiseOptions(orders=models.PairwiseOptionsOrders.BOTH, tie_margin=0.1))
    created = create.sync(client=client, body=body)
    assert isinstance(created, models.PairwiseEvaluation), created

    def completed():
        evaluation = read.sync(client=client, evaluation_id=created.id)
        return evaluation if evaluation.status == models.PairwiseEvaluationStatus.COMPLETED else None
    evaluation = wait_for(completed, timeout=60)
    assert isinstance(evaluation.summary, models.PairwiseEvaluationSummary)
    assert evaluation.summary.wins == 4 and evaluation.summary.win_rate > 0.5  # the scripted judge prefers longer

    def board():
        answer = leaderboard.sync(client=client, suite="gen", protocol="pairwise", judge="scripted")
        return answer if isinstance(answer, models.LeaderboardOut) and answer.rows else None
    rows = wait_for(board, timeout=30).rows
    assert [r.model for r in rows] == ["gen-model"]
    assert rows[0].value == evaluation.summary.win_rate and len(rows[0].ci95) == 2 and isinstance(rows[0].n, int)
