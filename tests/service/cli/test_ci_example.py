"""The README's CI examples, run as written against a live embedded service (SQLite, in-process judging) whose
judge is scripted to prefer the longer response.

A push to main makes a leaderboard run; a pull request (GitHub) and a merge request (GitLab) whose outputs
got shorter then regress. Their shell steps run in bash as the CI systems run them, with the variables the
CI systems would set; the install step is skipped (the CLI is this checkout's) and `uses:` steps are not
shell. The test checks exit codes, the reports, that the baseline was found by query, and the leaderboard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
import yaml

from service.client import JudgeserveClient
from tests.live_gateway import free_port
from tests.service.cli.test_readme_ci import yaml_blocks
from tests.support import REPO, wait_for

JUDGESERVE = Path(sys.executable).parent / "judgeserve"
N_ITEMS = 12
GENERATOR = """\
import argparse, json, os
parser = argparse.ArgumentParser()
parser.add_argument("--suite")
parser.add_argument("--out")
args = parser.parse_args()
length = int(os.environ["TEST_RESPONSE_LENGTH"])  # how the test makes a run better or worse
with open(args.suite) as suite, open(args.out, "w") as out:
    for line in suite:
        item = json.loads(line)
        out.write(json.dumps({"id": item["id"], "response": "x" * length}) + "\\n")
"""


def block(marker: str) -> str:
    return next(text for text in yaml_blocks() if marker in text)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """`judgeserve serve` in embedded mode with a scripted judge named as in the examples."""
    tmp = tmp_path_factory.mktemp("ci-example")
    judges = tmp / "judges.yaml"
    judges.write_text(yaml.safe_dump([{"name": "qwen-7b", "backend": "scripted", "model": "scripted-longer",
                                       "engine": {"policy": "longer"}}]), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    env.update(JUDGESERVE_JUDGES_FILE=str(judges))
    port = free_port()
    log = (tmp / "serve.log").open("w")
    process = subprocess.Popen([str(JUDGESERVE), "serve", "--port", str(port), "--data-dir", str(tmp / "data")],
                               env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, (tmp / "serve.log").read_text()
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout=120, interval=0.3)
    yield url, (tmp / "data" / "api-key").read_text(encoding="utf-8").strip()
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """A user's repository: the README's project file, a suite file and an outputs generator."""
    root = tmp_path_factory.mktemp("repo")
    (root / "judgeserve.yaml").write_text(block("fail_under:"), encoding="utf-8")
    (root / "suites").mkdir()
    (root / "suites" / "chat.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "prompt": f"question {i}", "baseline_response": "b" * 20}) + "\n"
        for i in range(N_ITEMS)), encoding="utf-8")
    (root / "scripts").mkdir()
    (root / "scripts" / "generate_outputs.py").write_text(GENERATOR, encoding="utf-8")
    return root


def run_steps(scripts: list[str], root: Path, env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """Each script in bash -eo pipefail (GitHub's `shell: bash`), stopping at the first that fails."""
    results = []
    for script in scripts:
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=root,
                                env=env, capture_output=True, text=True, timeout=600)
        results.append(result)
        if result.returncode:
            break
    return results


def ci_env(url: str, key: str, root: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUDGESERVE_", "GITHUB_", "CI_", "JS_"))}
    env.update(PATH=f"{JUDGESERVE.parent}{os.pathsep}{env.get('PATH', '')}", JUDGESERVE_URL=url,
               JUDGESERVE_API_KEY=key, NO_COLOR="1", COLUMNS="200", **variables)
    return env


def github_scripts() -> tuple[dict, list[str]]:
    job = yaml.safe_load(block("jobs:"))["jobs"]["judge"]
    scripts = [step["run"] for step in job["steps"] if "run" in step and not step["name"].startswith("Install")]
    return job["env"], scripts


def reports(root: Path) -> tuple[str, ElementTree.Element]:
    return ((root / "judgeserve-report.md").read_text(encoding="utf-8"),
            ElementTree.parse(root / "judgeserve-junit.xml").getroot())


def test_the_examples_gate_a_regressing_pull_request_against_main_found_by_query(service, repository, tmp_path):
    url, key = service
    job_env, scripts = github_scripts()
    assert set(job_env) == {"JUDGESERVE_URL", "JUDGESERVE_API_KEY", "JS_BRANCH", "JS_COMMIT", "PR_NUMBER"}

    # a push to main: a leaderboard run, no gate
    main_summary = tmp_path / "main-summary.md"
    results = run_steps(scripts, repository, ci_env(
        url, key, repository, GITHUB_EVENT_NAME="push", JS_BRANCH="main", JS_COMMIT="aaaa111", PR_NUMBER="",
        GITHUB_STEP_SUMMARY=str(main_summary), TEST_RESPONSE_LENGTH="40"))
    assert [r.returncode for r in results] == [0, 0, 0], results[-1].stdout + results[-1].stderr
    markdown, junit = reports(repository)
    assert "judgeserve: ✅ passed" in markdown and "Regression gate" not in markdown
    assert markdown in main_summary.read_text(encoding="utf-8")
    assert junit.find("testsuite").get("failures") == "0" and len(junit.findall("testsuite/testcase")) == 2

    # a pull request whose responses got shorter: gated against main's run, kept off the leaderboard
    pr_summary = tmp_path / "pr-summary.md"
    results = run_steps(scripts, repository, ci_env(
        url, key, repository, GITHUB_EVENT_NAME="pull_request", JS_BRANCH="feature/shorter", JS_COMMIT="bbbb222",
        PR_NUMBER="7", GITHUB_STEP_SUMMARY=str(pr_summary), TEST_RESPONSE_LENGTH="5"))
    assert [r.returncode for r in results] == [0, 0, 1], results[-1].stdout + results[-1].stderr
    assert "unchanged chat version 1" in results[0].stdout  # --if-changed: the gate compares like with like
    markdown, junit = reports(repository)
    with JudgeserveClient(url, key) as client:
        main_run = next(client.evaluations(tags={"branch": "main"}))
        pr_run = next(client.evaluations(tags={"pr": "7"}))
        board = client.leaderboard("chat", judge="qwen-7b")
    assert main_run.model == "my-model@aaaa111" and main_run.leaderboard
    assert pr_run.tags == {"branch": "feature/shorter", "commit": "bbbb222", "pr": "7"} and not pr_run.leaderboard
    assert f"**Regression gate** ❌ fail against [`{main_run.id}`]" in markdown
    assert "found by query: the latest with tag branch=main" in markdown
    assert f"/ui/compare?baseline={main_run.id}&candidate={pr_run.id}" in markdown
    assert f"{N_ITEMS} changed outcome (0 improved, {N_ITEMS} regressed)" in markdown
    assert f"**Threshold** ❌ win_rate = {pr_run.metric_value:.3f} (fail under 0.5)" in markdown
    assert pr_run.metric_value < 0.5 and markdown in pr_summary.read_text(encoding="utf-8")
    failures = {case.get("name"): case.find("failure") for case in junit.iter("testcase")}
    assert failures["evaluation completed"] is None
    assert failures["threshold win_rate >= 0.5"] is not None
    assert failures[f"regression gate against {main_run.id}"] is not None
    assert [row.model for row in board.rows] == ["my-model@aaaa111"]  # never the pull request's run

    # a GitLab merge request: the same gate, JUnit for the merge request's test report
    job = yaml.safe_load(block("script:"))["judge"]
    assert set(job["variables"]) == {"JS_BRANCH", "JS_COMMIT"}
    scripts = [line for line in job["script"] if not line.startswith("pip install")]
    results = run_steps(scripts, repository, ci_env(
        url, key, repository, CI_PIPELINE_SOURCE="merge_request_event", JS_BRANCH="feature/shorter",
        JS_COMMIT="cccc333", CI_MERGE_REQUEST_IID="9", CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature/shorter",
        TEST_RESPONSE_LENGTH="5"))
    assert [r.returncode for r in results] == [0, 0, 1], results[-1].stdout + results[-1].stderr
    markdown, junit = reports(repository)
    assert f"against [`{main_run.id}`]" in markdown  # main's run, not the pull request's newer one
    assert junit.find("testsuite").get("failures") == "2"
    with JudgeserveClient(url, key) as client:
        assert [row.model for row in client.leaderboard("chat", judge="qwen-7b").rows] == ["my-model@aaaa111"]
        assert [s.version for s in client.suites() if s.name == "chat"] == [1]


def test_no_matching_baseline_is_exit_2_with_the_query_and_nothing_is_submitted(service, repository):
    url, key = service
    env = ci_env(url, key, repository, JS_BRANCH="feature/x", JS_COMMIT="dddd444", TEST_RESPONSE_LENGTH="30")
    subprocess.run(["bash", "-c", "python scripts/generate_outputs.py --suite suites/chat.jsonl --out outputs.jsonl"],
                   cwd=repository, env=env, check=True)
    with JudgeserveClient(url, key) as client:
        before = len(list(client.evaluations()))
    result = subprocess.run([str(JUDGESERVE), "run", "--gate-against", "latest:model=nobody,tag=branch=main"],
                            cwd=repository, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no completed evaluation matches model=nobody, tag branch=main on suite 'chat'" in result.stderr
    with JudgeserveClient(url, key) as client:
        assert len(list(client.evaluations())) == before
