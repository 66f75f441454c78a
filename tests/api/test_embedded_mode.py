"""Embedded mode: SQLite file, migrations on start, jobs in-process; same code paths as production."""

from __future__ import annotations

import sqlite3


from service.config import Settings
from service.db.engine import dispose_all
from tests.support import api_client, project_id, wait_for


def test_embedded_mode_judges_in_process(tmp_path, judges_file):
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    assert settings.embedded
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "x" * (i + 1), "response_b": "yy"} for i in range(5)]
    with api_client(settings) as client:
        assert client.get("/readyz").json()["checks"]["mode"] == "embedded"
        created = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m",
                                                       "items": items, "options": {"chunk_size": 2}})
        assert created.status_code == 202
        location = created.headers["location"]
        done = wait_for(lambda: (e := client.get(location).json())["status"] == "completed" and e, timeout=30)
        assert done["progress"]["done"] == 5 and done["progress"]["chunks_done"] == 3
        assert (done["summary"]["wins"], done["summary"]["ties"], done["summary"]["losses"]) == (3, 1, 1)
        # the in-process runner announces itself for every configured judge
        judges = {j["name"]: j for j in client.get("/v1/judges").json()}
        assert judges["scripted"]["available"] and judges["embedded"]["available"]
        verdicts = client.get(f"{location}/verdicts").json()["data"]
        assert len(verdicts) == 5 and all(len(v["judgments"]) == 2 for v in verdicts)
    dispose_all()
    database = tmp_path / "data" / "judgeserve.db"
    with sqlite3.connect(database) as conn:  # schema made by the Alembic migration
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM judgments").fetchone()[0] == 10


def test_embedded_start_picks_up_chunks_left_pending(tmp_path, judges_file):
    """Jobs queued in memory are lost when the process stops; their chunks are queued again on start."""
    from service.db.engine import session_scope
    from service.db.migrate import upgrade
    from service.evaluations import service
    from service.evaluations.schemas import EvaluationCreate

    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    upgrade(settings.effective_database_url())

    class Forgetful:  # a dispatcher that loses every job, like a process that stopped
        def enqueue(self, *args, **kwargs):
            pass

        def ping(self):
            return True

    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a", "response_b": "bb"} for i in range(3)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted", model="m", items=items, options={"chunk_size": 2})
    owner = project_id(settings)
    with session_scope(settings.effective_database_url()) as session:
        evaluation_id = service.submit(session, Forgetful(), settings, body, owner)
    with api_client(settings) as client:
        done = wait_for(lambda: (e := client.get(f"/v1/evaluations/{evaluation_id}").json())["status"] == "completed" and e)
        assert done["progress"]["done"] == 3
    dispose_all()


def test_embedded_mode_refreshes_leaderboards_in_process(tmp_path, judges_file):
    import uuid

    from service.db.engine import session_scope
    from service.db.migrate import upgrade
    from service.suites import repository as suites_repo

    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    upgrade(settings.effective_database_url())
    suite_id = str(uuid.uuid4())
    with session_scope(settings.effective_database_url()) as session:
        suites_repo.add_suite(session, {"id": suite_id, "project_id": project_id(settings), "name": "tiny",
                                        "version": 1, "baseline_model": "ref",
                                        "n_items": 3, "description": None},
                              [{"suite_id": suite_id, "position": i, "item_key": f"q{i}", "category": None,
                                "payload": {"prompt": f"q{i}", "baseline_response": "bb"}} for i in range(3)])
    with api_client(settings) as client:
        created = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m",
                                                       "suite": "tiny",
                                                       "items": [{"id": f"q{i}", "response": "a" * (i + 1)}
                                                                 for i in range(3)]})
        assert created.status_code == 202, created.text
        board = wait_for(lambda: (r := client.get("/v1/leaderboards/tiny")).status_code == 200 and r.json())
        assert [row["model"] for row in board["rows"]] == ["m"] and board["rows"][0]["n"] == 3
    dispose_all()


def test_embedded_mode_review_queue_and_other_protocols(tmp_path, judges_file):
    """SQLite too: reviews are opened, listed and labelled; another protocol (rating) runs in process."""
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file, embedding_model="lexical")
    items = [{"id": f"i{i}", "prompt": f"p{i}", "response_a": f"a{i}", "response_b": f"b{i}"} for i in range(6)]
    with api_client(settings) as client:
        created = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted-first", "model": "m",
                                                       "items": items, "options": {"review_fraction": 0.5}})
        location = created.headers["location"]
        done = wait_for(lambda: (e := client.get(location).json())["status"] == "completed" and e, timeout=30)
        open_reviews = client.get("/v1/reviews", params={"evaluation_id": done["id"]}).json()["data"]
        assert len(open_reviews) == done["reviews"]["open"] >= 1
        labelled = client.post(f"/v1/reviews/{open_reviews[0]['id']}", json={"label": "b", "reviewer": "me"})
        assert labelled.status_code == 200 and labelled.json()["status"] == "done"
        assert client.get(location).json()["reviews"]["done"] == 1

        rating = client.post("/v1/evaluations", json={"protocol": "rating", "judge": "scripted", "model": "m", "items": [
            {"id": "r", "prompt": "p", "response": "<<scripted:2=1>>"}]}).headers["location"]
        rated = wait_for(lambda: (e := client.get(rating).json())["status"] == "completed" and e, timeout=30)
        assert rated["summary"]["mean_score"] == 2.0
    dispose_all()


def test_embedded_mode_gives_up_a_chunk_that_keeps_raising(tmp_path, judges_file, monkeypatch):
    """In-process jobs are retried like RQ's, so a chunk that keeps raising is closed within one run."""
    from service.core.protocol import get_protocol

    protocol = get_protocol("pairwise")
    real_plan = protocol.plan_calls

    def plan(item, options, done):
        if item.response_a == "x":
            raise KeyError("boom")
        return real_plan(item, options, done)

    monkeypatch.setattr(protocol, "plan_calls", plan)
    monkeypatch.setattr("service.queue.IN_PROCESS_RETRY_DELAYS", (0.2,))
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file, job_retries=3)
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "x" * (i + 1), "response_b": "yy"} for i in range(5)]
    with api_client(settings) as client:
        location = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m",
                                                        "items": items, "options": {"chunk_size": 2}}).headers["location"]
        done = wait_for(lambda: (e := client.get(location).json())["status"] == "completed" and e, timeout=60)
        assert (done["progress"]["done"], done["progress"]["failed"]) == (3, 2)
        failed = [v for v in client.get(f"{location}/verdicts").json()["data"] if v["failed"]]
        assert [v["item_id"] for v in failed] == ["i0", "i1"]
        assert all("given up after 3 starts that raised; last error: KeyError" in v["details"]["errors"][0] for v in failed)
    dispose_all()
