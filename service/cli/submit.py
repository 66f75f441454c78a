"""`judgeserve submit`: send a JSONL file of outputs for evaluation, wait, and gate a CI job on the result."""

from __future__ import annotations

import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service.cli import arguments, remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL, ExitCode, fail
from service.client import (
    DECISION_RULES, Comparison, Evaluation, JudgeserveClient, NotFound, WaitTimeout,
)
from service.core.protocols import DEFAULT_PROTOCOL

MAX_REPORTED_LINES = 20


FORMATS = ("items", "alpacaeval", "fastchat")


@dataclass
class InputFile:
    """What to upload (a path, or stdin's bytes) and the problems a local scan found, by 1-based line."""

    name: str
    source: Path | bytes
    n_items: int = 0
    n_problems: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_REPORTED_LINES:
            self.problems.append((line, message))


def open_input(path: Path, format: str) -> InputFile:
    """The input file; for ``items``, every line checked to be a JSON object (streamed, nothing kept).

    The service validates the items themselves (and names the line of any bad one); this scan only
    catches a broken file before anything is sent.
    """
    stdin = str(path) == "-"
    name = "<stdin>" if stdin else str(path)
    try:
        source: Path | bytes = sys.stdin.buffer.read() if stdin else path
        handle = io.BytesIO(source) if stdin else path.open("rb")
    except OSError as exc:
        result = InputFile(name=name, source=b"")
        result.problem(0, f"cannot read {name}: {exc.strerror or exc}")
        return result
    result = InputFile(name=name, source=source)
    if format != "items":
        handle.close()
        return result
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:  # without its line break, so a line cut short reports its own column, not "line 2 column 1"
                item = json.loads(line.rstrip(b"\r\n"))
            except json.JSONDecodeError as exc:
                result.problem(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            except ValueError as exc:  # not UTF-8
                result.problem(number, f"not UTF-8 text ({exc})")
                continue
            if not isinstance(item, dict):
                result.problem(number, f"expected a JSON object, got {type(item).__name__}")
                continue
            result.n_items += 1
    if not result.n_items and not result.n_problems:
        result.problem(0, f"{name} has no items (one JSON object per line)")
    return result


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (3, 0.7, true, null, [..]), else as text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"--option {pair!r}: expected key=value", ExitCode.USAGE)
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def submit(
    file: Annotated[Path, typer.Option("--file", "-f", help="JSONL file, one item per line ('-' for stdin). With "
                                       "--suite each line is {\"id\", \"response\"}; otherwise a full protocol item.")],
    model: Annotated[str, typer.Option(help="Name of the model whose outputs these are.")],
    judge: Annotated[str, typer.Option(help="Judge name (see GET /v1/judges).")],
    format: Annotated[str, typer.Option(
        "--format", help="items (JSONL, one item per line), alpacaeval (AlpacaEval model_outputs.json) or fastchat "
                         "(FastChat MT-Bench answers); the last two are matched to --suite's items.")] = "items",
    protocol: Annotated[str, typer.Option(
        help="Protocol name (`judgeserve protocols` lists them).")] = DEFAULT_PROTOCOL,
    suite: Annotated[Optional[str], typer.Option(help="Evaluate on a stored suite (items reference it by id).")] = None,
    suite_version: Annotated[Optional[int], typer.Option(min=1, help="Suite version (default: the latest).")] = None,
    baseline_model: Annotated[Optional[str], typer.Option(help="Who wrote response B (default: the suite's).")] = None,
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-o", help="Evaluation option key=value (repeatable; values parsed as JSON), e.g. samples=3.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the result (implied by --fail-under and --gate-against).")] = False,
    timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait before giving up (exit 3).")] = 3600.0,
    cancel_on_timeout: Annotated[bool, typer.Option(help="Cancel the evaluation when the wait times out.")] = False,
    fail_under: Annotated[Optional[float], typer.Option(
        help="Exit 1 when the main metric (the summary field that summary.metric names: the protocol's "
             "headline_metric in `judgeserve protocols`) is below this value.")] = None,
    gate_against: Annotated[Optional[str], typer.Option(
        help="Baseline evaluation id: exit 1 when the regression gate (POST /v1/comparisons) fails.",
        callback=arguments.evaluation_id)] = None,
    margin: Annotated[float, typer.Option(min=0, help="Tolerated drop of the metric for --gate-against.")] = 0.0,
    alpha: Annotated[float, typer.Option(min=0, max=1, help="Significance level for --gate-against (0 < alpha < 1).")] = 0.05,
    gate_rule: Annotated[Optional[str], typer.Option(
        help="Decision rule for --gate-against: bound (fail when the upper bound of candidate − baseline is below "
             "−margin) or bound_or_significant (also when the drop is beyond the margin with p < alpha); "
             "default: the server's (bound).")] = None,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Submit a file of model outputs; with --wait, show progress, print the summary and gate on it.

    Exit codes: 0 pass, 1 threshold or gate failed, 2 usage or input error, 3 service error or timeout.
    """
    options = parse_options(option or [])
    if format not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {format!r}", ExitCode.USAGE)
    if suite is None and (format != "items" or suite_version is not None):
        raise fail(f"{'--suite-version' if format == 'items' else '--format ' + format} needs --suite", ExitCode.USAGE)
    inputs = open_input(file, format)
    if inputs.problems:
        error = fail(f"{inputs.name}: {inputs.n_problems} problem(s), nothing was submitted", ExitCode.USAGE)
        for number, message in inputs.problems:
            typer.echo(f"  {inputs.name} line {number}: {message}" if number else f"  {message}", err=True)
        if inputs.n_problems > len(inputs.problems):
            typer.echo(f"  ... and {inputs.n_problems - len(inputs.problems)} more", err=True)
        raise error
    wait = wait or fail_under is not None or gate_against is not None
    gate = _gate_spec(gate_against, margin, alpha, gate_rule)

    with remote.connect(url, api_key, retries) as client:
        with remote.errors_to_exit_codes():
            if gate:
                _check_baseline(client, gate.baseline_id, protocol, judge, suite, suite_version)
        with remote.errors_to_exit_codes(remote.line_locator(inputs.name)):
            evaluation = client.upload_evaluation(
                inputs.source, protocol=protocol, judge=judge, model=model, suite=suite, suite_version=suite_version,
                baseline_model=baseline_model, options=options or None, format=format)
        typer.echo(f"submitted evaluation {evaluation.id} ({evaluation.progress.total} items, model "
                   f"{evaluation.model}) to {client.base_url}", err=as_json)
        if not wait:
            if as_json:
                remote.print_json({"evaluation": evaluation.model_dump(mode="json")})
            return
        with remote.errors_to_exit_codes():
            evaluation = _wait(client, evaluation, timeout, cancel_on_timeout, as_json)
            outcome = _judge_outcome(client, evaluation, fail_under, gate, as_json)
    raise typer.Exit(int(outcome))


@dataclass(frozen=True)
class _Gate:
    """--gate-against and its parameters."""

    baseline_id: str
    margin: float
    alpha: float
    rule: str | None


def _gate_spec(gate_against: str | None, margin: float, alpha: float, rule: str | None) -> _Gate | None:
    """The gate asked for, checked before anything is submitted (the server would refuse it after the judging)."""
    if gate_against is None:
        return None
    if not 0 < alpha < 1:
        raise fail(f"--alpha must be between 0 and 1 (exclusive), not {alpha:g}", ExitCode.USAGE)
    if rule is not None and rule not in DECISION_RULES:
        raise fail(f"--gate-rule must be one of {', '.join(DECISION_RULES)}, not {rule!r}", ExitCode.USAGE)
    return _Gate(gate_against, margin, alpha, rule)


def _check_baseline(client: JudgeserveClient, baseline_id: str, protocol: str, judge: str, suite: str | None,
                    suite_version: int | None) -> None:
    """Refuse a gate that cannot work before spending judge time on the submission."""
    try:
        baseline = client.get_evaluation(baseline_id)
    except NotFound:
        raise fail(f"--gate-against: no evaluation {baseline_id!r}", ExitCode.USAGE) from None
    if baseline.status != "completed":
        raise fail(f"--gate-against: evaluation {baseline_id} is {baseline.status}, not completed", ExitCode.USAGE)
    for name, mine, theirs in (("protocol", protocol, baseline.protocol), ("judge", judge, baseline.judge),
                               ("suite", suite, baseline.suite)):
        if mine != theirs:
            raise fail(f"--gate-against: the baseline's {name} is {theirs!r}, this submission's {mine!r}; "
                       "the gate compares runs of the same suite, judge and protocol", ExitCode.USAGE)
    if suite is not None and baseline.suite_version is not None:
        version = suite_version or next((s.version for s in client.suites() if s.name == suite), None)
        if version != baseline.suite_version:
            raise fail(f"--gate-against: the baseline ran on suite {suite!r} version {baseline.suite_version}, this "
                       f"submission would run on version {version}; give --suite-version {baseline.suite_version} "
                       "to compare like with like", ExitCode.USAGE)


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


def _judge_outcome(client: JudgeserveClient, evaluation: Evaluation, fail_under: float | None,
                   gate: _Gate | None, as_json: bool) -> ExitCode:
    """Print the results and the checks; the exit code they add up to."""
    result: dict[str, Any] = {"evaluation": evaluation.model_dump(mode="json")}
    if evaluation.status != "completed":
        if as_json:
            remote.print_json(result | {"exit_code": int(ExitCode.SERVICE)})
        else:
            remote.print_evaluation(evaluation)
        typer.secho(f"error: evaluation {evaluation.id} ended {evaluation.status}"
                    f"{': ' + evaluation.error if evaluation.error else ''}", fg="red", err=True)
        return ExitCode.SERVICE
    code = ExitCode.OK
    lines = []
    if fail_under is not None:
        value, metric = evaluation.metric_value, evaluation.metric
        passed = value is not None and value >= fail_under
        code = code if passed else ExitCode.FAILED
        result["threshold"] = {"metric": metric, "value": value, "fail_under": fail_under, "passed": passed}
        relation = ">=" if passed else "<"
        lines.append(f"threshold: {metric} = {remote.fmt(value)} {relation if value is not None else 'is n/a, not >='} "
                     f"{fail_under:g}: {'PASS' if passed else 'FAIL'}")
    if gate is not None:
        comparison = client.compare(gate.baseline_id, evaluation.id, margin=gate.margin, alpha=gate.alpha,
                                    decision_rule=gate.rule)
        code = code if comparison.passed else ExitCode.FAILED
        result["gate"] = comparison.model_dump(mode="json")
        lines.append(_gate_line(comparison))
    result["exit_code"] = int(code)
    if as_json:
        remote.print_json(result)
        return code
    remote.print_evaluation(evaluation)
    for line in lines:
        typer.echo(line)
    return code


def _gate_line(c: Comparison) -> str:
    return (f"gate against {c.baseline_evaluation_id}: {c.decision.upper()} ({c.metric} difference "
            f"{c.difference:+.3f}, 95% CI {remote.fmt_ci(c.difference_ci95)}, p = {c.p_value:.3g} ({c.test}), "
            f"margin {c.margin:g}, alpha {c.alpha:g}, rule {c.decision_rule or 'the server default'}, {c.n_shared} shared items)")

