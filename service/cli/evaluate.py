"""Submit, wait, check and report: what `judgeserve submit` and `judgeserve run` do once their settings are known."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service.cli import remote
from service.cli.gating import Gate, check_baseline, run_gate
from service.cli.input_file import open_input
from service.cli.remote import ExitCode, fail
from service.cli.reports import Outcome, Threshold, write_reports
from service.client import Comparison, Evaluation, JudgeserveClient, WaitTimeout


@dataclass
class RunSpec:
    """Everything one CI evaluation needs: what to submit, where, the checks and the reports."""

    file: Path
    judge: str
    model: str
    protocol: str
    format: str = "items"
    suite: str | None = None
    suite_version: int | None = None
    baseline_model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    leaderboard: bool | None = None
    wait: bool = False
    timeout: float = 3600.0
    cancel_on_timeout: bool = False
    fail_under: float | None = None
    gate: Gate | None = None
    report_md: Path | None = None
    junit: Path | None = None
    url: str | None = None
    api_key: str | None = None
    retries: int = 3
    as_json: bool = False

    @property
    def waits(self) -> bool:
        """A threshold, a gate or a report needs the result."""
        return self.wait or self.fail_under is not None or self.gate is not None or bool(self.report_md or self.junit)


def evaluate(spec: RunSpec) -> int:
    """Check the input and the gate, submit, and (when the result is needed) wait, check and report; the exit code."""
    if spec.format not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {spec.format!r}", ExitCode.USAGE)
    if spec.suite is None and (spec.format != "items" or spec.suite_version is not None):
        needs = "--suite-version" if spec.format == "items" else "--format " + spec.format
        raise fail(f"{needs} needs --suite", ExitCode.USAGE)
    inputs = open_input(spec.file, spec.format)
    if inputs.problems:
        error = fail(f"{inputs.name}: {inputs.n_problems} problem(s), nothing was submitted", ExitCode.USAGE)
        for number, message in inputs.problems:
            typer.echo(f"  {inputs.name} line {number}: {message}" if number else f"  {message}", err=True)
        if inputs.n_problems > len(inputs.problems):
            typer.echo(f"  ... and {inputs.n_problems - len(inputs.problems)} more", err=True)
        raise error
    with remote.connect(spec.url, spec.api_key, spec.retries) as client:
        with remote.errors_to_exit_codes():
            if spec.gate:
                check_baseline(client, spec.gate, spec.protocol, spec.judge, spec.suite, spec.suite_version)
        with remote.errors_to_exit_codes(remote.line_locator(inputs.name)):
            evaluation = client.upload_evaluation(
                inputs.source, protocol=spec.protocol, judge=spec.judge, model=spec.model, suite=spec.suite,
                suite_version=spec.suite_version, baseline_model=spec.baseline_model, options=spec.options or None,
                format=spec.format, tags=spec.tags or None, leaderboard=spec.leaderboard)
        typer.echo(f"submitted evaluation {evaluation.id} ({evaluation.progress.total} items, model "
                   f"{evaluation.model}) to {client.base_url}", err=spec.as_json)
        if not spec.waits:
            if spec.as_json:
                remote.print_json({"evaluation": evaluation.model_dump(mode="json")})
            return int(ExitCode.OK)
        with remote.errors_to_exit_codes():
            evaluation = _wait(client, evaluation, spec.timeout, spec.cancel_on_timeout, spec.as_json)
            return int(_judge_outcome(client, evaluation, spec))


FORMATS = ("items", "alpacaeval", "fastchat")


def _wait(client: JudgeserveClient, evaluation: Evaluation, timeout: float, cancel_on_timeout: bool,
          as_json: bool) -> Evaluation:
    try:
        with _ProgressDisplay() as display:
            return client.wait(evaluation.id, timeout=timeout, on_progress=display.update)
    except WaitTimeout as exc:
        if cancel_on_timeout:
            try:
                client.cancel_evaluation(evaluation.id)
                typer.echo(f"cancelled evaluation {evaluation.id}", err=True)
            except Exception as cancel_error:  # report; the timeout is what we exit on
                typer.echo(f"could not cancel evaluation {evaluation.id}: {cancel_error}", err=True)
        if as_json:
            remote.print_json({"evaluation": exc.evaluation.model_dump(mode="json"), "timed_out": True,
                               "cancelled": cancel_on_timeout, "exit_code": int(ExitCode.SERVICE)})
        detail = f" ({exc.evaluation.status_detail})" if exc.evaluation.status_detail else ""
        raise fail(f"timed out after {timeout:g} s: evaluation {evaluation.id} is still {exc.evaluation.status}"
                   f"{detail}, {exc.evaluation.progress.finished}/{exc.evaluation.progress.total} items; "
                   f"see `judgeserve status {evaluation.id}`", ExitCode.SERVICE) from None


class _ProgressDisplay:
    """A progress bar on a terminal; in CI logs (no terminal) a line whenever the progress changes."""

    def __init__(self) -> None:
        self.console = remote.stderr()
        self.bar: Progress | None = None
        self.task = None
        self.last: tuple | None = None

    def __enter__(self) -> "_ProgressDisplay":
        if self.console.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=self.console, transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task("queued", total=None)
        return self

    def update(self, evaluation: Evaluation) -> None:
        p = evaluation.progress
        waiting = " (waiting for a worker)" if evaluation.waiting_for_worker else ""
        if self.bar is not None:
            self.bar.update(self.task, description=f"{evaluation.status}{waiting}", total=p.total or None,
                            completed=p.finished)
            return
        state = (evaluation.status, p.finished, evaluation.waiting_for_worker)
        if state != self.last:
            self.last = state
            failed = f", {p.failed} failed" if p.failed else ""
            self.console.print(f"{time.strftime('%H:%M:%S')} {evaluation.status}{waiting}: "
                               f"{p.finished}/{p.total} items{failed}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _judge_outcome(client: JudgeserveClient, evaluation: Evaluation, spec: RunSpec) -> ExitCode:
    """Check the result, print it, write the reports; the exit code the checks add up to."""
    threshold = (Threshold(evaluation.metric, evaluation.metric_value, spec.fail_under)
                 if spec.fail_under is not None and evaluation.status == "completed" else None)
    comparison = (run_gate(client, spec.gate, evaluation)
                  if spec.gate is not None and evaluation.status == "completed" else None)
    outcome = Outcome.of(evaluation, str(client.base_url), threshold=threshold, comparison=comparison,
                         gate_baseline=spec.gate.baseline_text() if spec.gate else None)
    written = write_reports(outcome, spec.report_md, spec.junit)
    code = ExitCode.SERVICE if evaluation.status != "completed" else ExitCode.OK if outcome.passed else ExitCode.FAILED
    if spec.as_json:
        remote.print_json(_as_json(outcome, code, written))
    else:
        _print(outcome, written)
    if evaluation.status != "completed":
        typer.secho(f"error: evaluation {evaluation.id} ended {evaluation.status}"
                    f"{': ' + evaluation.error if evaluation.error else ''}", fg="red", err=True)
    return code


def _as_json(outcome: Outcome, code: ExitCode, written: list[Path]) -> dict[str, Any]:
    result: dict[str, Any] = {"evaluation": outcome.evaluation.model_dump(mode="json")}
    if outcome.threshold is not None:
        t = outcome.threshold
        result["threshold"] = {"metric": t.metric, "value": t.value, "fail_under": t.fail_under, "passed": t.passed}
    if outcome.comparison is not None:
        result["gate"] = outcome.comparison.model_dump(mode="json")
    result["warnings"] = [w.as_dict() for w in outcome.warnings]
    result["reports"] = [str(path) for path in written]
    result["links"] = {"evaluation": outcome.evaluation_url(),
                       **({"comparison": outcome.comparison_url()} if outcome.comparison else {})}
    result["exit_code"] = int(code)
    return result


def _print(outcome: Outcome, written: list[Path]) -> None:
    remote.print_evaluation(outcome.evaluation)
    if outcome.threshold is not None:
        t = outcome.threshold
        relation = (">=" if t.passed else "<") if t.value is not None else "is n/a, not >="
        typer.echo(f"threshold: {t.metric} = {remote.fmt(t.value)} {relation} {t.fail_under:g}: "
                   f"{'PASS' if t.passed else 'FAIL'}")
    if outcome.comparison is not None:
        typer.echo(_gate_line(outcome.comparison, outcome.gate_baseline))
        typer.echo(f"  compare the runs: {outcome.comparison_url()}")
    for path in written:
        typer.echo(f"report written: {path}", err=True)


def _gate_line(c: Comparison, asked: str | None) -> str:
    found = f" ({asked}, found by query)" if c.baseline_query and asked else ""
    changed = getattr(c, "n_changed", None)
    changes = f", {changed} changed outcome" if changed is not None else ""
    return (f"gate against {c.baseline_evaluation_id}{found}: {c.decision.upper()} ({c.metric} difference "
            f"{c.difference:+.3f}, 95% CI {remote.fmt_ci(c.difference_ci95)}, p = {c.p_value:.3g} ({c.test}), "
            f"margin {c.margin:g}, alpha {c.alpha:g}, rule {c.decision_rule or 'the server default'}, "
            f"{c.n_shared} shared items{changes})")
