"""`judgeserve status`, `verdicts` and `leaderboard`: read results from a running service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from service.cli import arguments, remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL
from service.core.protocols import DEFAULT_PROTOCOL
from service.core.tags import parse_filters

EVALUATION_ID = Annotated[str, typer.Argument(help="The evaluation's id.", callback=arguments.evaluation_id)]


def status(
    evaluation_id: EVALUATION_ID,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Show an evaluation's status, progress, summary and reliability report."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        evaluation = client.get_evaluation(evaluation_id)
    if as_json:
        remote.print_json(evaluation.model_dump(mode="json"))
    else:
        remote.print_evaluation(evaluation)


def verdicts(
    evaluation_id: EVALUATION_ID,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write JSONL here (default: stdout).")] = None,
    include_item: Annotated[bool, typer.Option(help="Include each item's submitted fields.")] = False,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Verdicts per request.")] = 500,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
) -> None:
    """Write every verdict (with its judge calls) as JSONL, one verdict per line, in submission order."""
    count = 0
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        sink = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for verdict in client.verdicts(evaluation_id, page_size=page_size, include_item=include_item):
                sink.write(json.dumps(verdict.model_dump(mode="json"), ensure_ascii=False) + "\n")
                count += 1
        finally:
            if output:
                sink.close()
    typer.echo(f"{count} verdicts{f' written to {output}' if output else ''}", err=True)


def leaderboard(
    suite: Annotated[str, typer.Argument(help="Suite name.")],
    protocol: Annotated[str, typer.Option(help="Protocol of the leaderboard.")] = DEFAULT_PROTOCOL,
    judge: Annotated[Optional[str], typer.Option(help="Judge (needed when several judges have one).")] = None,
    runs: Annotated[str, typer.Option(help="latest (one row per model) or all (every run).")] = "latest",
    tag: Annotated[Optional[list[str]], typer.Option(
        "--tag", "-t", help="Only runs with this tag: key=value, or key for any value (repeatable).")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Print the leaderboard as CSV (with avg_length).")] = False,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Show a suite's leaderboard as a table: rank range, metric with 95% interval, n, Elo and the protocol's columns
    per model; or as CSV."""
    if runs not in ("latest", "all"):
        raise remote.fail(f"--runs must be latest or all, not {runs!r}", remote.ExitCode.USAGE)
    try:
        tags = {f.key: f.value for f in parse_filters(tag)}
    except ValueError as exc:
        raise remote.fail(f"--tag: {exc}", remote.ExitCode.USAGE) from None
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        if csv:
            typer.echo(client.leaderboard_csv(suite, protocol=protocol, judge=judge, runs=runs, tags=tags), nl=False)
            return
        board = client.leaderboard(suite, protocol=protocol, judge=judge, runs=runs, tags=tags)
    if as_json:
        remote.print_json(board.model_dump(mode="json", exclude={"etag", "not_modified"}))
        return
    metric = board.metric or "value"
    table = Table(title=f"{board.suite} v{board.suite_version} · {board.protocol} · judge {board.judge} · {runs} runs")
    extra = [c for c in board.columns if not c.endswith(("_ci95", "_note"))]  # intervals and notes: in --json
    for column in ("#", "rank range", "model", metric, "95% CI", "n", "elo", "elo 95% CI", *extra, "avg length",
                   "evaluation"):
        table.add_column(column, justify="right" if column not in ("model", "evaluation") else "left")
    for position, row in enumerate(board.rows, start=1):
        values = row.model_dump()
        best, worst = values.get("rank_best"), values.get("rank_worst")
        span = "" if best is None else f"{best}" if best == worst else f"{best}–{worst}"
        table.add_row(str(row.rank or position), span, row.model, remote.fmt(row.value), remote.fmt_ci(row.ci95),
                      remote.fmt(row.n), remote.fmt(row.elo, 1), remote.fmt_ci(row.elo_ci95, 1),
                      *(remote.fmt(values.get(column)) for column in extra), remote.fmt(values.get("avg_length"), 0),
                      row.evaluation_id)
    remote.stdout().print(table)
