"""Self-reference judging end to end on the real vLLM CPU engine with the bundled model, with a worker killed
between the two stages: gateway (in process, with its reaper) → Redis/RQ → worker processes → Postgres.

Stage 1 (the judge's own answer, a JSON-constrained free-text call within a small token budget) is stored, the
worker's whole process group (worker, engine core, scheduler) is SIGKILLed while stage 2 (critique, then the
constrained verdict, both orders) is generating, and a new worker finishes the chunk from stage 2. Two short
MT-Bench questions keep it small. The bundled SmolLM2-135M is close to random: this checks the pipeline (stages,
stored answers and critiques, constrained labels with probabilities), never the judge's quality.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from service.db.engine import session_scope
from service.models import Chunk, Judgment
from tests.e2e.test_vllm_protocols import mt_bench
from tests.support import REPO, api_client, settings_env, wait_for

pytestmark = pytest.mark.vllm
QUESTIONS = (101, 102)
OPTIONS = {"self_reference": True, "self_answer_tokens": 48, "rationale_tokens": 32}
STARTED: list[subprocess.Popen] = []


@pytest.fixture
def settings(prod_settings):
    # a killed worker's chunk is taken back by the reaper once its heartbeat is 10 s old
    return prod_settings.model_copy(update={"heartbeat_ttl_seconds": 10.0, "reaper_interval_seconds": 1.0})


@pytest.fixture(autouse=True)
def no_stray_processes():
    yield
    while STARTED:
        try:
            os.killpg(STARTED.pop().pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_worker(settings, log_path) -> subprocess.Popen:
    """A worker of the bundled judge in its own process group (the engine core and scheduler are in it too)."""
    with open(log_path, "w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", "embedded"], env=settings_env(settings),
                                  cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(worker)
    return worker


def stored(settings, evaluation_id) -> list[tuple[str, str | None]]:
    with session_scope(settings.database_url) as session:
        query = select(Judgment.order, Judgment.error).where(Judgment.evaluation_id == evaluation_id)
        return [(order, error) for order, error in session.execute(query)]


def judged_lines(log_path) -> list[str]:
    messages = []
    for line in log_path.read_text().splitlines():
        try:
            message = json.loads(line).get("message", "")
        except ValueError:
            continue
        if message.startswith("judged "):
            messages.append(message)
    return messages


def items() -> list[dict]:
    """MT-Bench first turns, the reference answer against a terse one (no reference given: stage 1 runs)."""
    return [{"id": f"mt-{q['question_id']}", "prompt": q["turns"][0], "response_a": reference,
             "response_b": "I do not know."} for q, reference in mt_bench(QUESTIONS)]


def test_self_reference_on_the_real_engine_resumed_after_a_kill_between_stages(settings, tmp_path):
    with api_client(settings) as client:
        created = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "embedded", "model": "m",
                                                       "items": items(), "options": OPTIONS})
        assert created.status_code == 202, created.text
        evaluation_id = created.json()["id"]
        first = start_worker(settings, tmp_path / "first.log")
        wait_for(lambda: first.poll() is not None or stored(settings, evaluation_id), timeout=600, interval=0.05)
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-4000:]
        os.killpg(first.pid, signal.SIGKILL)  # stage 1 stored, stage 2 generating
        first.wait(30)
        answers = stored(settings, evaluation_id)
        assert sorted(answers) == [("self_answer", None)] * 2, f"not killed between the stages: {answers}"

        second = start_worker(settings, tmp_path / "second.log")
        try:
            done = wait_for(lambda: (e := client.get(f"/v1/evaluations/{evaluation_id}").json())["status"]
                            in ("completed", "failed") and e, timeout=900, interval=1.0)
        finally:
            second.terminate()
            second.wait(60)
        verdicts = client.get(f"/v1/evaluations/{evaluation_id}/verdicts").json()["data"]
    assert done["status"] == "completed", done
    assert done["progress"]["done"] == 2 and done["progress"]["failed"] == 0
    # the resumed run made only stage 2: two orders for each of the two items
    assert judged_lines(tmp_path / "second.log") == ["judged 4 calls (0 from the cache) for 2 items"]
    with session_scope(settings.database_url) as session:
        assert list(session.scalars(select(Chunk.attempts).where(Chunk.evaluation_id == evaluation_id))) == [2]
    for verdict in verdicts:
        judgments = {j["order"]: j for j in verdict["judgments"]}
        assert sorted(judgments) == ["ab", "ba", "self_answer"]
        assert judgments["self_answer"]["label"] == "answered" and judgments["self_answer"]["template"] == "self_answer/1"
        record = verdict["details"]["self_reference"]
        assert record["status"] == "ok" and record["answer"]
        for order in ("ab", "ba"):
            judgment = judgments[order]
            assert judgment["error"] is None and judgment["label"] in ("1", "2", "tie"), judgment
            assert judgment["rationale"] and judgment["label_probs"], judgment
        assert [(c["order"], c["critique"]) for c in record["critiques"]] == [
            (o, judgments[o]["rationale"]) for o in ("ab", "ba")]
        assert verdict["score"] is not None and 0.0 <= verdict["score"] <= 1.0
    print(json.dumps({v["item_id"]: v["details"]["self_reference"] for v in verdicts}, indent=1)[:3000])
