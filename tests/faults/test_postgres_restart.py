"""Postgres restarted while workers run: a private cluster (initdb in the test's folder) is stopped mid-evaluation
and started again; workers reconnect, their chunks are retried, and nothing is half-written or duplicated."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from service.db.migrate import upgrade
from tests.faults.test_lost_work import N_ITEMS, assert_exactly_once, body, free_port, start_worker
from tests.support import api_client, wait_for

BIN = Path("/usr/lib/postgresql/15/bin")
pytestmark = pytest.mark.skipif(not (BIN / "initdb").exists() or os.geteuid() != 0 or shutil.which("runuser") is None,
                                reason="needs PostgreSQL 15's initdb/pg_ctl and root (to run them as user postgres)")


def pg_ctl(data: Path, port: int, *args: str) -> None:
    options = f"-p {port} -k {data.parent} -c listen_addresses=127.0.0.1"
    subprocess.run(["runuser", "-u", "postgres", "--", str(BIN / "pg_ctl"), "-D", str(data), "-o", options,
                    "-l", str(data.parent / "postgres.log"), "-w", *args], check=True, capture_output=True)


@pytest.fixture
def private_postgres():
    folder = Path(tempfile.mkdtemp(prefix="judgeserve-pg-"))  # under /tmp: user postgres must reach it
    shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(["runuser", "-u", "postgres", "--", str(BIN / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres"], check=True, capture_output=True)
    pg_ctl(data, port, "start")
    try:
        yield data, port, f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_restarted_while_workers_run(prod_settings, private_postgres):
    data, port, url = private_postgres
    upgrade(url)
    own = prod_settings.model_copy(update={"database_url": url, "heartbeat_ttl_seconds": 3.0,
                                           "reaper_interval_seconds": 0.5})
    with api_client(own) as client:
        evaluation_id = client.post("/v1/evaluations", json=body()).json()["id"]
        worker = start_worker(own)
        try:
            wait_for(lambda: client.get(f"/v1/evaluations/{evaluation_id}").json()["progress"]["done"] >= 2,
                     timeout=60, interval=0.2)
            pg_ctl(data, port, "-m", "fast", "stop")  # every connection is cut, mid-chunk
            time.sleep(3)
            pg_ctl(data, port, "start")
            done = wait_for(lambda: _completed(client, evaluation_id), timeout=180, interval=0.5)
            assert worker.poll() is None, "the worker should survive the restart"
        finally:
            worker.terminate()
            worker.wait(30)
    assert done["progress"]["done"] == N_ITEMS and done["progress"]["failed"] == 0
    assert_exactly_once(own, evaluation_id)


def _completed(client, evaluation_id):
    try:
        evaluation = client.get(f"/v1/evaluations/{evaluation_id}").json()
    except Exception:  # the gateway's pool reconnects on the next request
        return None
    return evaluation if evaluation.get("status") == "completed" else None
