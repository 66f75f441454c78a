"""`judgeserve evaluations list` (the installed command) against a live production-mode gateway with real
workers: the table, --json, the filters, --limit, and the exit codes of a refused filter and an unreachable
service."""

from __future__ import annotations

import json
import subprocess

import pytest

from service.client import JudgeserveClient
from tests.live_gateway import start_live_service, stop_live_service
from tests.support import REPO

JUDGESERVE = REPO / ".venv" / "bin" / "judgeserve"
ITEMS = [{"id": f"i{i}", "prompt": "p", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(4)]


@pytest.fixture(scope="module")
def live(pg_url, tmp_path_factory):
    service = start_live_service(pg_url, tmp_path_factory.mktemp("live-evaluations"))
    yield service
    stop_live_service(service)


@pytest.fixture(scope="module")
def submitted(live):
    """Two completed evaluations and, newest, one that waits for a worker that never comes."""
    with JudgeserveClient(live.url, live.api_key) as client:
        done = [client.submit_evaluation(protocol="pairwise", judge="scripted", model=model, items=ITEMS).id
                for model in ("alpha", "beta")]
        for evaluation_id in done:
            client.wait(evaluation_id, timeout=60)
        waiting = client.submit_evaluation(protocol="pairwise", judge="unserved", model="alpha", items=ITEMS).id
        summary = client.get_evaluation(done[1]).summary
    return {"done": done, "waiting": waiting, "summary": summary}


def judgeserve(live, *args: str, **env: str) -> subprocess.CompletedProcess:
    assert JUDGESERVE.exists(), "install the package: pip install -e ."
    return subprocess.run([str(JUDGESERVE), "evaluations", "list", *args], env=live.cli_env(**env), cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def listed_ids(live, *args: str) -> list[str]:
    result = judgeserve(live, *args, "--json")
    assert result.returncode == 0, result.stderr
    return [row["id"] for row in json.loads(result.stdout)]


def test_the_table_shows_newest_first_with_progress_and_the_headline_metric(live, submitted):
    result = judgeserve(live)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "evaluations: 3" in out
    lines = {evaluation_id: next(line for line in out.splitlines() if evaluation_id in line)
             for evaluation_id in [submitted["waiting"], *submitted["done"]]}
    assert out.index(submitted["waiting"]) < out.index(submitted["done"][1]) < out.index(submitted["done"][0])
    assert "queued" in lines[submitted["waiting"]] and "0/4" in lines[submitted["waiting"]]
    summary = submitted["summary"]
    newest_done = lines[submitted["done"][1]]
    assert "completed" in newest_done and "4/4" in newest_done and "beta" in newest_done
    assert f"win_rate {summary['win_rate']:.3f}" in newest_done
    assert f"[{summary['win_rate_ci95'][0]:.3f}, {summary['win_rate_ci95'][1]:.3f}]" in newest_done


def test_json_filters_and_limit(live, submitted):
    done, waiting = submitted["done"], submitted["waiting"]
    assert listed_ids(live) == [waiting, done[1], done[0]]
    assert listed_ids(live, "--status", "completed") == [done[1], done[0]]
    assert listed_ids(live, "--model", "alpha") == [waiting, done[0]]
    assert listed_ids(live, "--model", "alpha", "--judge", "scripted", "--protocol", "pairwise") == [done[0]]
    assert listed_ids(live, "--suite", "no-such-suite") == []
    assert listed_ids(live, "--limit", "2") == [waiting, done[1]]
    [row] = json.loads(judgeserve(live, "--limit", "1", "--status", "completed", "--json").stdout)
    assert row["metric"] == "win_rate" and row["metric_value"] == submitted["summary"]["win_rate"]
    assert "options" not in row and "summary" not in row


def test_a_refused_filter_exits_2_naming_it_and_an_unreachable_service_exits_3(live, submitted):
    refused = judgeserve(live, "--status", "finished")
    assert refused.returncode == 2 and "422" in refused.stderr and "?status" in refused.stderr
    unreachable = judgeserve(live, "--retries", "0", JUDGESERVE_URL="http://127.0.0.1:9")
    assert unreachable.returncode == 3 and "cannot reach" in unreachable.stderr
