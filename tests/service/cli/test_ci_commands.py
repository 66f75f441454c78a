"""The installed `judgeserve` command against a live production-mode gateway (uvicorn, Postgres, Redis)
with real scripted-judge workers: output and exit codes of submit / status / verdicts / leaderboard /
reviews, including a failing threshold, a failing gate, bad input, an unreachable server and a timeout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.client import JudgeserveClient
from service.db.engine import session_scope
from service.models import Evaluation
from tests.live_gateway import free_port, start_live_service, stop_live_service
from tests.support import REPO, wait_for

JUDGESERVE = REPO / ".venv" / "bin" / "judgeserve"
SUITE = "cli-chat"
N_ITEMS = 12
# the scripted judge prefers the longer response; the suite's baseline response i has 20+i characters
UNKNOWN_ID = "0b4f1c2e-8d3a-4f6b-9c1d-2e3f4a5b6c7d"  # well formed (a UUID) but no evaluation's
RESPONSES = {
    "long": lambda i: "a" * (40 + i),                         # longer everywhere: wins every item
    "short": lambda i: "a" * 5 if i % 3 else "a" * (20 + i),  # shorter on 8 items, ties on 4
}


@pytest.fixture(scope="module")
def live(pg_url, tmp_path_factory):
    service = start_live_service(pg_url, tmp_path_factory.mktemp("live"))
    with JudgeserveClient(service.url, service.api_key) as client:
        client.create_suite(SUITE, [{"id": f"q{i}", "prompt": f"question {i}", "baseline_response": "b" * (20 + i)}
                                    for i in range(N_ITEMS)], baseline_model="ref-model")
    yield service
    stop_live_service(service)


def judgeserve(live, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    assert JUDGESERVE.exists(), "install the package: pip install -e ."
    return subprocess.run([str(JUDGESERVE), *args], env=live.cli_env(**env), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def outputs_file(tmp_path: Path, kind: str, name: str = "outputs.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps({"id": f"q{i}", "response": RESPONSES[kind](i)}) + "\n"
                            for i in range(N_ITEMS)), encoding="utf-8")
    return path


def submit(live, tmp_path, model, kind, *extra, file=None):
    file = file or outputs_file(tmp_path, kind, f"{model}.jsonl")
    return judgeserve(live, "submit", "--suite", SUITE, "--model", model, "--judge", "scripted",
                      "--protocol", "pairwise", "--file", str(file), *extra)


def evaluation_count(live) -> int:
    with session_scope(live.settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(Evaluation))


def submitted_id(result: subprocess.CompletedProcess) -> str:
    return result.stdout.split("submitted evaluation ")[1].split()[0]


def fetch(live, evaluation_id):
    with JudgeserveClient(live.url, live.api_key) as client:
        return client.get_evaluation(evaluation_id)


def test_submit_waits_prints_the_summary_and_passes_the_threshold(live, tmp_path):
    result = submit(live, tmp_path, "long", "long", "--wait", "--fail-under", "0.7", "--option", "chunk_size=4")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    evaluation = fetch(live, submitted_id(result))
    summary = evaluation.summary
    assert f"({N_ITEMS} items, model long)" in out and evaluation.options["chunk_size"] == 4
    assert f"completed (pairwise, judge scripted, model long, suite {SUITE} v1)" in out
    low, high = summary["win_rate_ci95"]
    assert f"win_rate: {summary['win_rate']:.3f}  95% CI [{low:.3f}, {high:.3f}]" in out
    assert f"wins={summary['wins']} " in out and "position_consistency_rate=1.000" in out
    assert summary["win_rate"] > 0.7 and summary["wins"] == N_ITEMS
    assert f"threshold: win_rate = {summary['win_rate']:.3f} >= 0.7: PASS" in out
    # progress on stderr (a line per change outside a terminal), ending at every item
    assert f"completed: {N_ITEMS}/{N_ITEMS} items" in result.stderr


def test_fail_under_fails_with_exit_1(live, tmp_path):
    result = submit(live, tmp_path, "short", "short", "--fail-under", "0.5")  # --fail-under implies --wait
    assert result.returncode == 1, result.stdout + result.stderr
    value = fetch(live, submitted_id(result)).metric_value
    assert value < 0.5 and f"threshold: win_rate = {value:.3f} < 0.5: FAIL" in result.stdout


def test_json_output_and_the_regression_gate(live, tmp_path):
    base = submit(live, tmp_path, "gate-base", "long", "--wait", "--json")
    assert base.returncode == 0, base.stderr
    baseline = json.loads(base.stdout)
    assert baseline["exit_code"] == 0 and baseline["evaluation"]["status"] == "completed"
    base_id = baseline["evaluation"]["id"]

    worse = submit(live, tmp_path, "gate-worse", "short", "--gate-against", base_id, "--margin", "0.02")
    assert worse.returncode == 1, worse.stdout + worse.stderr
    with JudgeserveClient(live.url, live.api_key) as client:
        gate = client.compare(base_id, submitted_id(worse), margin=0.02)
    assert gate.decision == "fail" and gate.difference < -0.02
    assert (f"gate against {base_id}: FAIL (win_rate difference {gate.difference:+.3f}, 95% CI "
            f"[{gate.difference_ci95[0]:.3f}, {gate.difference_ci95[1]:.3f}], p = {gate.p_value:.3g} ({gate.test}), "
            f"margin 0.02, alpha 0.05, rule bound, {N_ITEMS} shared items, {gate.n_changed} changed outcome)") \
        in worse.stdout
    assert 0 < gate.n_changed <= N_ITEMS

    same = submit(live, tmp_path, "gate-same", "long", "--gate-against", base_id, "--margin", "0.02",
                  "--fail-under", "0.5", "--json")
    assert same.returncode == 0, same.stderr
    result = json.loads(same.stdout)
    assert result["exit_code"] == 0
    assert result["gate"]["decision"] == "pass" and result["gate"]["difference"] == 0
    value = result["evaluation"]["summary"]["win_rate"]
    assert result["threshold"] == {"metric": "win_rate", "value": value, "fail_under": 0.5, "passed": True}


def test_a_gate_that_cannot_work_is_refused_before_submitting(live, tmp_path):
    before = evaluation_count(live)
    missing = submit(live, tmp_path, "gate-x", "long", "--gate-against", UNKNOWN_ID)
    assert missing.returncode == 2 and f"--gate-against: no evaluation '{UNKNOWN_ID}'" in missing.stderr
    assert evaluation_count(live) == before
    base_id = submitted_id(submit(live, tmp_path, "gate-ref", "long", "--wait"))
    for extra, message in ((["--suite-version", "2"], "the baseline ran on suite 'cli-chat' version 1, this "
                                                      "submission would run on version 2"),
                           (["--alpha", "0"], "--alpha must be between 0 and 1 (exclusive), not 0"),
                           (["--gate-rule", "vibes"], "--gate-rule must be one of bound, bound_or_significant")):
        refused = submit(live, tmp_path, "gate-y", "long", "--gate-against", base_id, *extra)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    assert evaluation_count(live) == before + 1


def test_bad_input_file_exits_2_naming_the_line_and_submits_nothing(live, tmp_path):
    before = evaluation_count(live)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q0", "response": "x"}\n\n{"id": "q1", "response": "x"}\n{"id": "q2", "response": \n'
                   '["not", "an", "object"]\n{"id": "q5", "response": "x"}\n', encoding="utf-8")
    result = submit(live, tmp_path, "bad", None, file=bad)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{bad}: 2 problem(s), nothing was submitted" in result.stderr
    assert f"{bad} line 4: not valid JSON" in result.stderr
    assert f"{bad} line 5: expected a JSON object, got list" in result.stderr
    assert evaluation_count(live) == before


def test_a_422_from_the_service_names_the_line_of_the_item(live, tmp_path):
    before = evaluation_count(live)
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"id": "q0", "response": "x"}\n\n{"id": "q99", "response": "y"}\n{"id": "q1"}\n',
                       encoding="utf-8")
    result = submit(live, tmp_path, "unknown-item", None, file=unknown)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "HTTP 422" in result.stderr
    assert f"{unknown} line 3 (/lines/3/id):" in result.stderr  # lines count from 1, blank ones included
    wrong_judge = judgeserve(live, "submit", "--suite", SUITE, "--model", "m", "--judge", "no-such-judge",
                             "--file", str(outputs_file(tmp_path, "long")))
    assert wrong_judge.returncode == 2 and "unknown judge 'no-such-judge'" in wrong_judge.stderr
    assert evaluation_count(live) == before


def test_alpacaeval_outputs_from_stdin(live, tmp_path):
    records = [{"instruction": f"question {i}", "output": RESPONSES["long"](i), "generator": "alpaca-model"}
               for i in range(N_ITEMS)]
    result = subprocess.run([str(JUDGESERVE), "submit", "--suite", SUITE, "--model", "alpaca-model",
                             "--judge", "scripted", "--format",
                             "alpacaeval", "--file", "-", "--wait"], input=json.dumps(records), env=live.cli_env(),
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"({N_ITEMS} items, model alpaca-model)" in result.stdout
    assert "completed (pairwise, judge scripted, model alpaca-model" in result.stdout
    no_suite = judgeserve(live, "submit", "--model", "m", "--judge", "scripted", "--format", "fastchat",
                          "--file", "x.jsonl")
    assert no_suite.returncode == 2 and "--format fastchat needs --suite" in no_suite.stderr


def test_usage_errors_exit_2(live, tmp_path):
    file = str(outputs_file(tmp_path, "long"))
    no_model = judgeserve(live, "submit", "--judge", "scripted", "--file", file)
    assert no_model.returncode == 2 and "--model" in no_model.stderr
    no_judge = judgeserve(live, "submit", "--model", "m", "--file", file)
    assert no_judge.returncode == 2 and "--judge" in no_judge.stderr
    bad_option = judgeserve(live, "submit", "--suite", SUITE, "--model", "m", "--judge", "scripted", "--file", file,
                            "--option", "samples")
    assert bad_option.returncode == 2 and "--option 'samples': expected key=value" in bad_option.stderr
    no_file = judgeserve(live, "submit", "--model", "m", "--judge", "scripted", "--file", str(tmp_path / "nope"))
    assert no_file.returncode == 2 and "cannot read" in no_file.stderr
    assert judgeserve(live, "status", UNKNOWN_ID).returncode == 2


def test_unreachable_service_exits_3(live, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = judgeserve(live, "submit", "--suite", SUITE, "--model", "m", "--judge", "scripted",
                        "--file", str(outputs_file(tmp_path, "long")), "--url", url, "--retries", "1")
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"retrying POST {url}/v1/evaluations" in result.stderr
    assert f"cannot reach {url}" in result.stderr and "2 attempts" in result.stderr
    assert judgeserve(live, "status", UNKNOWN_ID, "--retries", "0", JUDGESERVE_URL=url).returncode == 3


def test_wait_timeout_exits_3_and_can_cancel(live, tmp_path):
    result = judgeserve(live, "submit", "--suite", SUITE, "--model", "nobody", "--judge", "unserved",
                        "--file", str(outputs_file(tmp_path, "long")), "--wait", "--timeout", "2",
                        "--cancel-on-timeout")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "timed out after 2 s" in result.stderr and "is still queued" in result.stderr
    assert "waiting for a worker" in result.stderr or "queued: 0/12 items" in result.stderr
    evaluation_id = submitted_id(result)
    status = judgeserve(live, "status", evaluation_id, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "cancelled"
    text = judgeserve(live, "status", evaluation_id)
    assert f"evaluation {evaluation_id} cancelled" in text.stdout
    as_json = judgeserve(live, "submit", "--suite", SUITE, "--model", "nobody", "--judge", "unserved",
                         "--file", str(outputs_file(tmp_path, "long")), "--timeout", "0.5", "--wait", "--json")
    assert as_json.returncode == 3
    reported = json.loads(as_json.stdout)  # CI can still find the evaluation's id
    assert reported["timed_out"] and reported["exit_code"] == 3 and reported["evaluation"]["status"] == "queued"


def test_submit_without_wait_then_status_and_verdicts(live, tmp_path):
    submitted = submit(live, tmp_path, "later", "long", "--json")
    assert submitted.returncode == 0, submitted.stderr
    evaluation_id = json.loads(submitted.stdout)["evaluation"]["id"]
    JudgeserveClient(live.url, live.api_key).wait(evaluation_id, timeout=60)

    status = judgeserve(live, "status", evaluation_id)
    assert status.returncode == 0 and f"evaluation {evaluation_id} completed" in status.stdout
    assert f"win_rate: {fetch(live, evaluation_id).metric_value:.3f}" in status.stdout

    output = tmp_path / "verdicts.jsonl"
    written = judgeserve(live, "verdicts", evaluation_id, "--output", str(output), "--page-size", "5",
                         "--include-item")
    assert written.returncode == 0 and f"12 verdicts written to {output}" in written.stderr
    verdicts = [json.loads(line) for line in output.read_text().splitlines()]
    assert [v["item_id"] for v in verdicts] == [f"q{i}" for i in range(N_ITEMS)]
    assert all(v["outcome"] == "a" and len(v["judgments"]) == 2 for v in verdicts)
    assert verdicts[3]["item"]["response_a"] == RESPONSES["long"](3)
    to_stdout = judgeserve(live, "verdicts", evaluation_id)
    assert [json.loads(line)["item_id"] for line in to_stdout.stdout.splitlines()] == [v["item_id"] for v in verdicts]


def board_lists(live, *models: str) -> None:
    """Wait for the leaderboard snapshot: a job refreshes it after completion, and `submit --wait` may return first."""
    with JudgeserveClient(live.url, live.api_key) as client:
        wait_for(lambda: set(models) <= {row.model for row in client.leaderboard(SUITE, judge="scripted").rows},
                 timeout=30, interval=0.1)


def test_leaderboard_table(live, tmp_path):
    for model in ("board-long", "board-short"):
        assert submit(live, tmp_path, model, model.split("-")[1], "--wait").returncode == 0
    board_lists(live, "board-long", "board-short")
    result = judgeserve(live, "leaderboard", SUITE, "--protocol", "pairwise", "--judge", "scripted")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"{SUITE} v1 · pairwise · judge scripted · latest runs" in result.stdout
    assert any("win_rate" in line and "elo" in line and "lc_win_rate" in line for line in lines)  # its columns
    ranked = [line for line in lines if "board-" in line]
    assert "board-long" in ranked[0] and "board-short" in ranked[-1]
    board = json.loads(judgeserve(live, "leaderboard", SUITE, "--judge", "scripted", "--json").stdout)
    rows = {row["model"]: row for row in board["rows"]}
    for model, row in rows.items():
        assert row["value"] == fetch(live, row["evaluation_id"]).metric_value
    assert rows["board-long"]["value"] > 0.5 > rows["board-short"]["value"]
    missing = judgeserve(live, "leaderboard", "no-such-suite")
    assert missing.returncode == 2 and "HTTP 404" in missing.stderr


def test_protocols_lists_what_the_service_runs(live):
    from service.core.protocol import get_protocol, protocol_names

    table = judgeserve(live, "protocols")
    assert table.returncode == 0, table.stderr
    for name in protocol_names():
        assert any(line.lstrip("│ ").startswith(name) and get_protocol(name).headline_metric in line
                   for line in table.stdout.splitlines()), table.stdout
    described = json.loads(judgeserve(live, "protocols", "--json").stdout)
    assert [p["name"] for p in described] == protocol_names()
    assert all(p["schemas"]["item"]["properties"]["id"] and p["label_form"]["kind"] for p in described)


def test_leaderboard_polling_with_the_client_gets_304(live, tmp_path):
    assert submit(live, tmp_path, "etag-model", "long", "--wait").returncode == 0
    board_lists(live, "etag-model")
    with JudgeserveClient(live.url, live.api_key) as client:
        first = client.leaderboard(SUITE, judge="scripted")
        again = client.leaderboard(SUITE, judge="scripted")
    assert not first.not_modified and again.not_modified and again.etag == first.etag
    assert {row.model for row in again.rows} == {row.model for row in first.rows}


def test_reviews_list_and_label(live, tmp_path):
    # scripted-first prefers whichever response comes first: both orders disagree, so items get reviews
    items = tmp_path / "pairs.jsonl"
    items.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"question {i}", "response_a": "x" * (5 + i),
                                         "response_b": "y" * 9}) + "\n" for i in range(6)), encoding="utf-8")
    submitted = judgeserve(live, "submit", "--model", "reviewed", "--judge", "scripted-first", "--file", str(items),
                           "--option", "review_fraction=0.5", "--wait", "--json")
    assert submitted.returncode == 0, submitted.stderr
    evaluation = json.loads(submitted.stdout)["evaluation"]
    assert evaluation["reviews"]["open"] == 3

    listed = judgeserve(live, "reviews", "--evaluation", evaluation["id"], "--json")
    assert listed.returncode == 0, listed.stderr
    reviews = json.loads(listed.stdout)
    assert len(reviews) == 3 and all(r["status"] == "open" for r in reviews)
    table = judgeserve(live, "reviews", "--evaluation", evaluation["id"])
    assert f"reviews (open, evaluation {evaluation['id']}): 3" in table.stdout
    assert all(r["id"] in table.stdout for r in reviews)

    review = reviews[0]
    labelled = judgeserve(live, "reviews", "label", review["id"], "--label", "b", "--reviewer", "alice",
                          "--note", "B is better")
    assert labelled.returncode == 0, labelled.stderr
    assert f"review {review['id']} ({review['item_id']} of evaluation {evaluation['id']}) labelled label=b " \
           "by alice" in labelled.stdout
    done = json.loads(judgeserve(live, "reviews", "--evaluation", evaluation["id"], "--status", "done",
                                 "--json").stdout)
    assert [(r["id"], r["label"], r["reviewer"]) for r in done] == [(review["id"], {"label": "b"}, "alice")]
    every = json.loads(judgeserve(live, "reviews", "--evaluation", evaluation["id"], "--status", "all",
                                  "--json").stdout)
    assert sorted(r["id"] for r in every) == sorted(r["id"] for r in reviews)
    assert sorted(r["status"] for r in every) == ["done", "open", "open"]
    status = json.loads(judgeserve(live, "status", evaluation["id"], "--json").stdout)
    assert status["reviews"] == {"open": 2, "done": 1}

    invalid = judgeserve(live, "reviews", "label", reviews[1]["id"], "--label", "maybe", "--reviewer", "bob")
    assert invalid.returncode == 2 and "HTTP 422" in invalid.stderr
    nothing = judgeserve(live, "reviews", "label", reviews[1]["id"], "--reviewer", "bob")
    assert nothing.returncode == 2 and "give the label" in nothing.stderr


def test_a_missing_or_wrong_key_exits_2_and_a_resubmission_with_the_same_key_is_not_duplicated(live, tmp_path):
    file = str(outputs_file(tmp_path, "long"))
    no_key = judgeserve(live, "submit", "--suite", SUITE, "--model", "m", "--judge", "scripted", "--file", file,
                        JUDGESERVE_API_KEY="")
    assert no_key.returncode == 2 and "HTTP 401" in no_key.stderr
    wrong = judgeserve(live, "status", UNKNOWN_ID, "--api-key", "js_not_a_key")
    assert wrong.returncode == 2 and "HTTP 401" in wrong.stderr
    with JudgeserveClient(live.url, live.api_key) as client:
        items = [{"id": "q0", "response": "x" * 50}]
        first = client.submit_evaluation(protocol="pairwise", judge="scripted", model="idem", suite=SUITE,
                                         items=items, idempotency_key="ci-run-42")
        again = client.submit_evaluation(protocol="pairwise", judge="scripted", model="idem", suite=SUITE,
                                         items=items, idempotency_key="ci-run-42")
    assert again.id == first.id
