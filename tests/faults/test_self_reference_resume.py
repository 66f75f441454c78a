"""A self-reference evaluation whose worker is killed (SIGKILL) between its two stages resumes from stage 2.

The judge is scripted and slow (every engine call sleeps), so the kill lands after the judges' own answers
(stage 1) are stored and before any verdict call (stage 2) is. The next worker's run of the chunk makes only
the verdict calls: its log says how many calls it judged, and no self-answer is among them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import yaml
from sqlalchemy import select

from service.db.engine import session_scope
from service.models import Chunk, Judgment
from tests.conftest import SCRIPTED_JUDGES
from tests.support import REPO, api_client, settings_env, wait_for

JUDGE = "scripted-staged"
N_ITEMS = 2
OPTIONS = {"self_reference": True, "samples": 2, "temperature": 0.7, "seed": 5}
STARTED: list[subprocess.Popen] = []


@pytest.fixture
def judges_file(tmp_path):
    """The usual scripted judges plus one that takes 1.5 s per engine call (room to kill between stages)."""
    path = tmp_path / "judges.yaml"
    judges = SCRIPTED_JUDGES + [{"name": JUDGE, "backend": "scripted", "model": JUDGE,
                                 "engine": {"policy": "longer", "delay_ms": 1500}}]
    path.write_text(yaml.safe_dump(judges), encoding="utf-8")
    return path


@pytest.fixture
def settings(prod_settings):
    return prod_settings.model_copy(update={"heartbeat_ttl_seconds": 3.0, "reaper_interval_seconds": 0.5})


@pytest.fixture(autouse=True)
def no_stray_processes():
    """A SIGKILLed worker leaves its RQ scheduler behind: end every started worker's process group afterwards."""
    yield
    while STARTED:
        try:
            os.killpg(STARTED.pop().pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_worker(settings, log_path) -> subprocess.Popen:
    with open(log_path, "w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", JUDGE], env=settings_env(settings),
                                  cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(worker)
    return worker


def stored_orders(settings, evaluation_id) -> list[str]:
    with session_scope(settings.database_url) as session:
        return list(session.scalars(select(Judgment.order).where(Judgment.evaluation_id == evaluation_id)))


def judged_lines(log_path) -> list[str]:
    """The 'judged N calls ...' messages a worker logged (one per chunk it closed)."""
    messages = []
    for line in log_path.read_text().splitlines():
        try:
            message = json.loads(line).get("message", "")
        except ValueError:
            message = line
        if message.startswith("judged "):
            messages.append(message)
    return messages


def test_a_worker_killed_between_the_stages_is_resumed_from_stage_two(settings, tmp_path):
    items = [{"id": f"i{i}", "prompt": f'question {i} <<scripted-json:{{"answer": "answer {i}"}}>>',
              "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(N_ITEMS)]
    with api_client(settings) as client:
        created = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": JUDGE, "model": "m",
                                                       "items": items, "options": OPTIONS})
        assert created.status_code == 202, created.text
        evaluation_id = created.json()["id"]
        first = start_worker(settings, tmp_path / "first.log")
        wait_for(lambda: stored_orders(settings, evaluation_id), timeout=60, interval=0.02)
        first.kill()  # stage 1 stored, stage 2 sleeping in the engine call
        first.wait(10)
        assert sorted(stored_orders(settings, evaluation_id)) == ["self_answer"] * N_ITEMS, "killed between stages"

        second = start_worker(settings, tmp_path / "second.log")
        try:
            done = wait_for(lambda: (e := client.get(f"/v1/evaluations/{evaluation_id}").json())["status"]
                            == "completed" and e, timeout=120, interval=0.3)
        finally:
            second.terminate()
            second.wait(30)
        verdicts = client.get(f"/v1/evaluations/{evaluation_id}/verdicts").json()["data"]
    assert done["progress"] == {**done["progress"], "done": N_ITEMS, "failed": 0}
    stage2 = N_ITEMS * 2 * 2  # both orders, two samples
    assert judged_lines(tmp_path / "second.log") == [f"judged {stage2} calls (0 from the cache) for {N_ITEMS} items"]
    assert sorted(stored_orders(settings, evaluation_id)) == sorted(["self_answer"] * N_ITEMS + ["ab", "ba"] * 2 * N_ITEMS)
    for i, verdict in enumerate(verdicts):
        record = verdict["details"]["self_reference"]
        assert record["answer"] == f"answer {i}" and len(record["critiques"]) == 4
        assert verdict["outcome"] == ("b" if i == 0 else "tie")  # the longer response wins; equal lengths tie
    with session_scope(settings.database_url) as session:
        (attempts,) = session.scalars(select(Chunk.attempts).where(Chunk.evaluation_id == evaluation_id))
    assert attempts == 2
