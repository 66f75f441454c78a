"""Reports CI systems read: Markdown (GitHub's step summary, merge-request notes) and JUnit XML (GitLab, Jenkins).

Both are made from one ``Outcome``: the evaluation, the threshold check, the gate's comparison and the
reliability warnings, with links to the evaluation and comparison pages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

from service.client import Comparison, Evaluation
from service.core.reliability_warnings import ReliabilityWarning, reliability_warnings

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


@dataclass
class Threshold:
    """``fail_under``: the headline metric must reach a value."""

    metric: str | None
    value: float | None
    fail_under: float

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.fail_under


@dataclass
class Outcome:
    """What a CI run found: the evaluation and the checks on it."""

    evaluation: Evaluation
    base_url: str
    threshold: Threshold | None = None
    comparison: Comparison | None = None
    gate_baseline: str | None = None  # the baseline as asked for (an id or the latest query), for the report
    warnings: list[ReliabilityWarning] = field(default_factory=list)

    @classmethod
    def of(cls, evaluation: Evaluation, base_url: str, **checks: Any) -> "Outcome":
        """An outcome with the evaluation's reliability warnings."""
        return cls(evaluation, base_url.rstrip("/"), warnings=reliability_warnings(
            evaluation.reliability, evaluation.summary), **checks)

    @property
    def passed(self) -> bool:
        """Completed, and every check asked for passed."""
        return (self.evaluation.status == "completed" and (self.threshold is None or self.threshold.passed)
                and (self.comparison is None or self.comparison.passed))

    def evaluation_url(self) -> str:
        return f"{self.base_url}/ui/evaluations/{self.evaluation.id}"

    def comparison_url(self) -> str | None:
        if self.comparison is None:
            return None
        query = urlencode({"baseline": self.comparison.baseline_evaluation_id,
                           "candidate": self.comparison.candidate_evaluation_id})
        return f"{self.base_url}/ui/compare?{query}"


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _interval(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"[{_num(value[0])}, {_num(value[1])}]"
    return "n/a"


def markdown(outcome: Outcome) -> str:
    """The report as GitHub-flavoured Markdown."""
    e = outcome.evaluation
    verdict = "✅ passed" if outcome.passed else "❌ failed"
    suite = f" on suite `{e.suite}` v{e.suite_version}" if e.suite else ""
    lines = [f"## judgeserve: {verdict}", "",
             f"Model `{e.model}`{suite}, judge `{e.judge}`, protocol `{e.protocol}`: evaluation "
             f"[`{e.id}`]({outcome.evaluation_url()}) {e.status}.", ""]
    if e.summary:
        lines += ["| metric | value | 95% interval | items scored |", "|---|---|---|---|",
                  f"| {e.metric} | {_num(e.metric_value)} | {_interval(e.metric_ci95)} | "
                  f"{_num(e.summary.get('n_scored'))} of {_num(e.summary.get('n_items'))} |", ""]
    if outcome.threshold is not None:
        t = outcome.threshold
        mark = "✅" if t.passed else "❌"
        lines += [f"**Threshold** {mark} {t.metric} = {_num(t.value)} (fail under {t.fail_under:g})", ""]
    if outcome.comparison is not None:
        lines += _gate_lines(outcome)
    if outcome.warnings:
        lines += ["**Reliability warnings**", ""] + [f"- ⚠️ {w.text()}" for w in outcome.warnings] + [""]
    return "\n".join(lines)


def _gate_lines(outcome: Outcome) -> list[str]:
    c = outcome.comparison
    assert c is not None
    mark = "✅ pass" if c.passed else "❌ fail"
    found = f" (found by query: {outcome.gate_baseline})" if c.baseline_query else ""
    changed = getattr(c, "n_changed", None)
    lines = [f"**Regression gate** {mark} against [`{c.baseline_evaluation_id}`]"
             f"({outcome.base_url}/ui/evaluations/{c.baseline_evaluation_id}){found}", "",
             "| | baseline | candidate | difference | 95% interval | p-value | test |", "|---|---|---|---|---|---|---|",
             f"| {c.metric} | {_num(c.mean_baseline)} | {_num(c.mean_candidate)} | {c.difference:+.3f} | "
             f"{_interval(c.difference_ci95)} | {c.p_value:.3g} | {c.test} |", "",
             f"Margin {c.margin:g}, alpha {c.alpha:g}, rule `{c.decision_rule}`; {c.n_shared} shared items"
             + (f", {changed} changed outcome ({getattr(c, 'n_improved', 0)} improved, "
                f"{getattr(c, 'n_regressed', 0)} regressed)" if changed is not None else "") + ".",
             f"[Compare the runs side by side]({outcome.comparison_url()})", ""]
    return lines


def junit(outcome: Outcome) -> str:
    """The checks as JUnit XML: one test case per threshold and gate (and one for the evaluation itself)."""
    e = outcome.evaluation
    cases = [("evaluation completed", e.status == "completed",
              f"evaluation {e.id} ended {e.status}" + (f": {e.error}" if e.error else ""))]
    if outcome.threshold is not None:
        t = outcome.threshold
        cases.append((f"threshold {t.metric} >= {t.fail_under:g}", t.passed,
                      f"{t.metric} = {_num(t.value)} is below {t.fail_under:g}"))
    if outcome.comparison is not None:
        c = outcome.comparison
        cases.append((f"regression gate against {c.baseline_evaluation_id}", c.passed,
                      f"{c.metric} difference {c.difference:+.3f}, 95% interval {_interval(c.difference_ci95)}, "
                      f"p = {c.p_value:.3g} ({c.test}), margin {c.margin:g}: {c.rule}"))
    suite = ElementTree.Element("testsuite", name=f"judgeserve {e.model}", tests=str(len(cases)),
                                failures=str(sum(not ok for _, ok, _ in cases)), errors="0", skipped="0")
    for name, ok, message in cases:
        case = ElementTree.SubElement(suite, "testcase", classname=f"judgeserve.{e.protocol}", name=name)
        if not ok:
            ElementTree.SubElement(case, "failure", message=message, type="judgeserve").text = message
    output = ElementTree.SubElement(suite, "system-out")
    output.text = "\n".join([f"evaluation: {outcome.evaluation_url()}"]
                            + ([f"comparison: {outcome.comparison_url()}"] if outcome.comparison else [])
                            + [f"warning: {w.text()}" for w in outcome.warnings])
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def write_reports(outcome: Outcome, markdown_path: Path | None, junit_path: Path | None) -> list[Path]:
    """Write the reports asked for, and the Markdown to ``$GITHUB_STEP_SUMMARY`` when set; the paths written."""
    written = []
    text = markdown(outcome)
    if markdown_path is not None:
        markdown_path.write_text(text, encoding="utf-8")
        written.append(markdown_path)
    summary = os.environ.get(STEP_SUMMARY_ENV)
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:  # appended: other steps write there too
            handle.write(text + "\n")
        written.append(Path(summary))
    if junit_path is not None:
        junit_path.write_text(junit(outcome), encoding="utf-8")
        written.append(junit_path)
    return written
