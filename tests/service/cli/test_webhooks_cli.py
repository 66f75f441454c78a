"""`judgeserve webhooks` (the installed command) against a live production-mode gateway with real workers.

The registered host does not resolve here, so deliveries log failed attempts and wait for their retry:
enough to read the log, redeliver, and see the exit codes. Successful signed deliveries are tested in
tests/api/test_webhooks.py against a real receiver.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from service.client import JudgeserveClient
from tests.live_gateway import start_live_service, stop_live_service
from tests.support import REPO, wait_for

JUDGESERVE = REPO / ".venv" / "bin" / "judgeserve"
HOOK_URL = "http://cli-receiver.invalid/hook"


@pytest.fixture(scope="module")
def live(pg_url, tmp_path_factory):
    service = start_live_service(pg_url, tmp_path_factory.mktemp("live-webhooks"))
    yield service
    stop_live_service(service)


def judgeserve(live, *args: str) -> subprocess.CompletedProcess:
    assert JUDGESERVE.exists(), "install the package: pip install -e ."
    return subprocess.run([str(JUDGESERVE), "webhooks", *args], env=live.cli_env(), cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_create_list_deliveries_redeliver_delete(live):
    created = judgeserve(live, "create", HOOK_URL, "--event", "evaluation.completed", "--description", "ci hook")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("whsec_") and "not shown again" in created.stderr
    webhook_id = created.stderr.split()[1]

    listed = judgeserve(live, "list")
    assert listed.returncode == 0 and webhook_id in listed.stdout and "cli-receiver.invalid" in listed.stdout
    assert secret not in listed.stdout

    with JudgeserveClient(live.url, live.api_key) as client:
        evaluation = client.submit_evaluation(protocol="pairwise", judge="scripted", model="hooked", items=[
            {"id": f"i{i}", "prompt": "p", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(3)])
        client.wait(evaluation.id, timeout=60)

    def attempted():
        result = judgeserve(live, "deliveries", webhook_id, "--json")
        assert result.returncode == 0, result.stderr
        found = json.loads(result.stdout)
        return found if found and any(a["outcome"] != "sending" for a in found[0]["attempts"]) else None

    [delivery] = wait_for(attempted, timeout=60, interval=0.5)
    assert delivery["evaluation_id"] == evaluation.id and delivery["event_type"] == "evaluation.completed"
    assert delivery["attempts"][0]["status_code"] is None and "cannot resolve" in delivery["attempts"][0]["error"]

    table = judgeserve(live, "deliveries", webhook_id)
    assert table.returncode == 0 and delivery["id"] in table.stdout and "cannot resolve" in table.stdout

    again = judgeserve(live, "redeliver", webhook_id, delivery["id"])
    assert again.returncode == 0, again.stderr
    assert delivery["webhook_id"] in again.stdout and "queued again" in again.stdout

    default = judgeserve(live, "default-secret")
    assert default.returncode == 0 and default.stdout.strip().startswith("whsec_")

    assert judgeserve(live, "delete", webhook_id).returncode == 0
    assert webhook_id not in judgeserve(live, "list").stdout


def test_refused_destination_and_unknown_webhook_exit_2(live):
    refused = judgeserve(live, "create", "http://127.0.0.1:9/hook")
    assert refused.returncode == 2
    assert "/url" in refused.stderr and "destination refused" in refused.stderr and "loopback" in refused.stderr
    missing = judgeserve(live, "deliveries", "no-such-webhook")
    assert missing.returncode == 2 and "404" in missing.stderr


def test_unreachable_service_exits_3(live):
    result = subprocess.run([str(JUDGESERVE), "webhooks", "list", "--retries", "0"],
                            env=live.cli_env(JUDGESERVE_URL="http://127.0.0.1:9"), cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3 and "cannot reach" in result.stderr
