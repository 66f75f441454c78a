"""The Markdown and JUnit reports of `judgeserve submit`/`run`, from one outcome."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from service.cli.reports import Outcome, Threshold, junit, markdown, write_reports
from service.client import Comparison, Evaluation

BASE = "http://judge.internal:8000"


def evaluation(status="completed", reliability=None) -> Evaluation:
    return Evaluation.model_validate({
        "id": "cand-1", "status": status, "protocol": "pairwise", "judge": "j", "model": "m@abc", "suite": "bench",
        "suite_version": 2, "summary": {"metric": "win_rate", "win_rate": 0.42, "win_rate_ci95": [0.35, 0.5],
                                        "n_items": 100, "n_scored": 98, "n_failed": 0},
        "reliability": reliability or {"position_consistency_rate": 0.9, "first_position_win_rate": 0.5}})


def comparison(decision="fail", query=None) -> Comparison:
    return Comparison.model_validate({
        "baseline_evaluation_id": "base-1", "baseline_query": query, "candidate_evaluation_id": "cand-1",
        "protocol": "pairwise", "judge": "j", "metric": "win_rate", "n_shared": 98, "mean_baseline": 0.55,
        "mean_candidate": 0.42, "difference": -0.13, "difference_ci95": [-0.2, -0.06], "p_value": 0.0012,
        "test": "sign_flip_exact", "margin": 0.02, "alpha": 0.05, "decision": decision, "decision_rule": "bound",
        "rule": "fail when …", "n_changed": 17, "n_improved": 3, "n_regressed": 14})


def test_markdown_holds_the_metric_the_gate_changes_warnings_and_links():
    outcome = Outcome.of(evaluation(reliability={"position_consistency_rate": 0.41, "first_position_win_rate": 0.5}),
                         BASE, threshold=Threshold("win_rate", 0.42, 0.4),
                         comparison=comparison(query={"latest": {"model": "m"}}), gate_baseline="the latest with model=m")
    text = markdown(outcome)
    assert "❌ failed" in text  # the gate failed, so the run failed although the threshold passed
    assert "| win_rate | 0.420 | [0.350, 0.500] | 98 of 100 |" in text
    assert "**Threshold** ✅ win_rate = 0.420 (fail under 0.4)" in text
    assert "**Regression gate** ❌ fail against [`base-1`](http://judge.internal:8000/ui/evaluations/base-1) " \
           "(found by query: the latest with model=m)" in text
    assert "| win_rate | 0.550 | 0.420 | -0.130 | [-0.200, -0.060] | 0.0012 | sign_flip_exact |" in text
    assert "17 changed outcome (3 improved, 14 regressed)" in text
    assert "(http://judge.internal:8000/ui/compare?baseline=base-1&candidate=cand-1)" in text
    assert "⚠️ position consistency 0.41 (below 0.6)" in text
    assert "[`cand-1`](http://judge.internal:8000/ui/evaluations/cand-1)" in text


def test_a_sound_passing_run_has_no_warnings_section():
    text = markdown(Outcome.of(evaluation(), BASE + "/", comparison=comparison("pass")))
    assert "✅ passed" in text and "Reliability warnings" not in text and "found by query" not in text


@pytest.mark.parametrize(("threshold", "decision", "failures"), [
    (Threshold("win_rate", 0.42, 0.4), "pass", 0),
    (Threshold("win_rate", 0.42, 0.5), "pass", 1),
    (Threshold("win_rate", 0.42, 0.5), "fail", 2),
    (None, "fail", 1),
    (Threshold("win_rate", None, 0.1), None, 1),  # nothing scored: the threshold fails
])
def test_junit_has_a_case_per_check_and_a_failure_per_failed_check(threshold, decision, failures):
    outcome = Outcome.of(evaluation(), BASE, threshold=threshold,
                         comparison=comparison(decision) if decision else None)
    root = ElementTree.fromstring(junit(outcome).encode())
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 1 + (threshold is not None) + (decision is not None)
    assert int(suite.get("failures")) == failures == sum(case.find("failure") is not None for case in cases)
    assert suite.get("tests") == str(len(cases))


def test_an_evaluation_that_did_not_complete_is_a_failed_case():
    root = ElementTree.fromstring(junit(Outcome.of(evaluation("failed"), BASE)).encode())
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "ended failed" in failure.get("message")


def test_the_markdown_also_goes_to_the_step_summary(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    outcome = Outcome.of(evaluation(), BASE, comparison=comparison("pass"))
    written = write_reports(outcome, tmp_path / "report.md", tmp_path / "junit.xml")
    assert written == [tmp_path / "report.md", summary, tmp_path / "junit.xml"]
    assert summary.read_text(encoding="utf-8").startswith("earlier step\n## judgeserve: ✅ passed")
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == markdown(outcome)
