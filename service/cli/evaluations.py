"""`judgeserve evaluations list`: the project's evaluations, newest first (over REST)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from service.cli import remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL, ExitCode, fail
from service.client import EvaluationListItem
from service.core.tags import parse_filters

STATUSES = ("queued", "running", "completed", "failed", "cancelled")

app = typer.Typer(help="Evaluations: `judgeserve evaluations list`.", no_args_is_help=True)


@app.command("list")
def list_evaluations(
    status: Annotated[Optional[str], typer.Option(
        help=f"Only evaluations in this status ({', '.join(STATUSES)}).")] = None,
    suite: Annotated[Optional[str], typer.Option(help="Only evaluations on this suite.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Only this candidate model's evaluations.")] = None,
    protocol: Annotated[Optional[str], typer.Option(
        help="Only this protocol's (`judgeserve protocols` lists them).")] = None,
    judge: Annotated[Optional[str], typer.Option(help="Only this judge's.")] = None,
    tag: Annotated[Optional[list[str]], typer.Option(
        "--tag", "-t", help="Only evaluations with this tag: key=value, or key for any value (repeatable: all "
                            "must match).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many (newest first).")] = 50,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """List the project's evaluations, newest first: status, progress and the headline metric with its interval."""
    found: list[EvaluationListItem] = []
    tags = _tag_filters(tag or [])
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        for evaluation in client.evaluations(status=status, suite=suite, model=model, protocol=protocol, judge=judge,
                                             tags=tags, page_size=min(limit, 500)):
            found.append(evaluation)
            if len(found) >= limit:
                break
    if as_json:
        remote.print_json([evaluation.model_dump(mode="json") for evaluation in found])
        return
    filters = ", ".join(f"{name} {value}" for name, value in
                        (("status", status), ("suite", suite), ("model", model), ("protocol", protocol),
                         ("judge", judge), ("tag", " ".join(tag or []))) if value)
    remote.stdout().print(_table(found, f"evaluations{f' ({filters})' if filters else ''}: {len(found)}"))


def _tag_filters(texts: list[str]) -> dict[str, str | None]:
    """``--tag`` filters as the client takes them; exit 2 naming a bad one."""
    try:
        return {f.key: f.value for f in parse_filters(texts)}
    except ValueError as exc:
        raise fail(f"--tag: {exc}", ExitCode.USAGE) from None


def _table(found: list[EvaluationListItem], title: str) -> Table:
    """The evaluations as a table, one row each."""
    table = Table(title=title)
    for column in ("evaluation", "created", "status", "protocol", "judge", "model", "suite", "tags", "items",
                   "metric", "95% CI"):
        table.add_column(column, justify="right" if column in ("items", "metric", "95% CI") else "left")
    for e in found:
        created = e.created_at.strftime("%Y-%m-%d %H:%M:%S") if e.created_at else ""
        failed = f" ({e.progress.failed} failed)" if e.progress.failed else ""
        items = f"{e.progress.done}/{e.progress.total}{failed}"
        metric = f"{e.metric} {remote.fmt(e.metric_value)}" if e.metric else ""
        suite = f"{e.suite} v{e.suite_version}" if e.suite else ""
        tags = " ".join(f"{k}={v}" for k, v in e.tags.items()) + ("" if e.leaderboard else " (off leaderboards)")
        table.add_row(e.id, created, e.status, e.protocol, e.judge, e.model, suite, tags.strip(), items, metric,
                      remote.fmt_ci(e.metric_ci95))
    return table
