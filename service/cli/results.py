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
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Show a suite's leaderboard as a table: metric with 95% interval, n, Elo and the protocol's columns per model."""
    if runs not in ("latest", "all"):
        raise remote.fail(f"--runs must be latest or all, not {runs!r}", remote.ExitCode.USAGE)
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        board = client.leaderboard(suite, protocol=protocol, judge=judge, runs=runs)
    if as_json:
        remote.print_json(board.model_dump(mode="json", exclude={"etag", "not_modified"}))
        return
    metric = board.metric or "value"
    table = Table(title=f"{board.suite} v{board.suite_version} · {board.protocol} · judge {board.judge} · {runs} runs")
    extra = [c for c in board.columns if not c.endswith(("_ci95", "_note"))]  # intervals and notes: in --json
    for column in ("#", "model", metric, "95% CI", "n", "elo", "elo 95% CI", *extra, "evaluation"):
        table.add_column(column, justify="right" if column not in ("model", "evaluation") else "left")
    for position, row in enumerate(board.rows, start=1):
        values = row.model_dump()
        table.add_row(str(row.rank or position), row.model, remote.fmt(row.value), remote.fmt_ci(row.ci95),
                      remote.fmt(row.n), remote.fmt(row.elo, 1), remote.fmt_ci(row.elo_ci95, 1),
                      *(remote.fmt(values.get(column)) for column in extra), row.evaluation_id)
    remote.stdout().print(table)
