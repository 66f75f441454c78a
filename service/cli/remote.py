"""Shared parts of the commands that talk to a running service over REST (submit, status, ...).

A remote command takes ``--url``/``--api-key`` (``URL``/``API_KEY`` below), builds its client with
``connect`` and runs inside ``errors_to_exit_codes()``, which turns the client's exceptions into a
message on stderr and one of the documented exit codes. New command groups (``keys``, ``webhooks``)
follow the same pattern and are registered in ``service/cli/main.py``.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from enum import IntEnum
from typing import Annotated, Any, Callable, Iterator, Optional

import typer
from rich.console import Console

from service.core.reliability_warnings import reliability_warnings
from service.client import (
    API_KEY_ENV, DEFAULT_URL, URL_ENV, ApiError, ConnectionFailed, Evaluation, FieldProblem, JudgeserveClient,
    JudgeserveError, RetryEvent, ServerError, WaitTimeout,
)


class ExitCode(IntEnum):
    """The CLI's exit codes (documented in the README's "CI usage")."""

    OK = 0
    FAILED = 1    # --fail-under threshold or --gate-against regression gate failed
    USAGE = 2     # bad arguments or input file, or the service refused the request (4xx, e.g. 422)
    SERVICE = 3   # service unreachable, 5xx, evaluation failed/cancelled, or a wait timeout


URL = Annotated[Optional[str], typer.Option(
    "--url", envvar=URL_ENV, show_envvar=True, help=f"Base URL of the service [default: {DEFAULT_URL}]")]
API_KEY = Annotated[Optional[str], typer.Option(
    "--api-key", envvar=API_KEY_ENV, show_envvar=True, help="API key, sent as Authorization: Bearer.")]
RETRIES = Annotated[int, typer.Option(
    "--retries", min=0, max=20, help="Retries on connection errors and 502/503/504 (backoff, Retry-After).")]
JSON_OUT = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

def stdout() -> Console:
    return _console(stderr=False)


def stderr() -> Console:
    return _console(stderr=True)


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=160)  # CI logs are wide; don't wrap tables at 80
    return console


def connect(url: str | None, api_key: str | None, retries: int = 3) -> JudgeserveClient:
    """A client for the command; retries are reported on stderr."""
    return JudgeserveClient(url, api_key, retries=retries, on_retry=_report_retry)


def _report_retry(event: RetryEvent) -> None:
    typer.echo(f"retrying {event.method} {event.url} in {event.delay:.1f} s (attempt {event.attempt} failed: "
               f"{event.reason})", err=True)


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Print ``error: message`` to stderr; return the Exit to raise."""
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(int(code))


@contextmanager
def errors_to_exit_codes(locate: Callable[[FieldProblem], str] | None = None) -> Iterator[None]:
    """Map client errors onto exit codes: 4xx → 2 (problems listed with their pointers), 5xx and
    connection errors → 3. ``locate`` renders where a field problem is (e.g. the input file's line)."""
    try:
        yield
    except ConnectionFailed as exc:
        raise fail(f"{exc}", ExitCode.SERVICE) from None
    except WaitTimeout as exc:
        raise fail(f"{exc}", ExitCode.SERVICE) from None
    except ApiError as exc:
        code = ExitCode.SERVICE if isinstance(exc, ServerError) else ExitCode.USAGE
        message = f"{exc.method} {exc.url}: HTTP {exc.status} {exc.title}"
        if exc.detail and not exc.errors:
            message += f": {exc.detail}"
        error = fail(message, code)
        for problem in exc.errors[:50]:
            where = locate(problem) if locate else problem.where()
            typer.echo(f"  {where}: {problem.detail}", err=True)
        if len(exc.errors) > 50:
            typer.echo(f"  ... and {len(exc.errors) - 50} more", err=True)
        raise error from None
    except JudgeserveError as exc:
        raise fail(str(exc), ExitCode.SERVICE) from None


def line_locator(filename: str) -> Callable[[FieldProblem], str]:
    """Render an upload's problem as ``outputs.jsonl line 7 (/lines/7/response)``."""
    def locate(problem: FieldProblem) -> str:
        if problem.line is not None:
            return f"{filename} line {problem.line}" + (f" ({problem.pointer})" if problem.pointer else "")
        return problem.where()
    return locate


# -- text output ----------------------------------------------------------------------------------

def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_ci(ci: Any, digits: int = 3) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"
    return ""


def _scalars(values: dict[str, Any] | None, skip: tuple[str, ...] = ()) -> str:
    parts = []
    for key, value in (values or {}).items():
        if key in skip or isinstance(value, (dict, list, tuple)):
            continue
        parts.append(f"{key}={fmt(value)}")
    return " ".join(parts)


def print_evaluation(evaluation: Evaluation) -> None:
    """The evaluation's state and results as text on stdout."""
    e = evaluation
    suite = f", suite {e.suite} v{e.suite_version}" if e.suite else ""
    typer.echo(f"evaluation {e.id} {e.status} ({e.protocol}, judge {e.judge}, model {e.model}{suite})")
    p = e.progress
    typer.echo(f"  items: {p.total} total, {p.done} judged, {p.failed} failed")
    if e.status_detail:
        typer.echo(f"  status: {e.status_detail}")
    if e.error:
        typer.echo(f"  error: {e.error}")
    if e.summary:
        metric = e.metric
        typer.echo(f"  {metric}: {fmt(e.metric_value)}  95% CI {fmt_ci(e.metric_ci95) or 'n/a'}")
        rest = _scalars(e.summary, skip=("metric", metric or ""))
        if rest:
            typer.echo(f"  summary: {rest}")
    if e.reliability:
        typer.echo(f"  reliability: {_scalars(e.reliability)}")
        for line in bias_lines(e.reliability.get("bias_factors")):
            typer.echo(f"  bias: {line}")
    for warning in reliability_warnings(e.reliability, e.summary) if e.status == "completed" else ():
        typer.echo(f"  warning: {warning.text()}")
    if e.reviews:
        typer.echo(f"  reviews: {e.reviews.get('open', 0)} open, {e.reviews.get('done', 0)} done")


def bias_lines(report: dict[str, Any] | None) -> list[str]:
    """One line per bias factor, e.g. "longer: judge 68% [61, 74] (n=210), humans 52% [45, 59] (n=200), ..."."""
    def pct(share: dict[str, Any]) -> str:
        if share.get("rate") is None:
            return "n/a (n=0)"
        low, high = share["ci95"]
        return f"{share['rate']:.0%} [{low * 100:.0f}, {high * 100:.0f}] (n={share['n']})"
    lines = []
    for row in (report or {}).get("rows", []):
        line = f"{row['factor']}: judge {pct(row['judge'])}"
        if row.get("humans"):
            line += f", humans {pct(row['humans'])}"
            if row.get("difference") is not None:
                line += f", difference {row['difference'] * 100:+.0f} points on the same items"
        lines.append(line + (f"  ({row['description']})" if row["factor"] == "self_preference" else ""))
    return lines


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))
