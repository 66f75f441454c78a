"""`judgeserve worker --judge NAME`: the same as `python -m workers --judge NAME`."""

from __future__ import annotations

import importlib
from typing import Annotated, Optional

import typer


def worker(
    judge: Annotated[str, typer.Option(help="Name of the judge this worker serves.")],
    burst: Annotated[bool, typer.Option(help="Exit when the queue is empty.")] = False,
    name: Annotated[Optional[str], typer.Option(help="RQ worker name.")] = None,
) -> None:
    """Start a judge worker (production mode: needs the database and Redis URLs)."""
    # Looked up by name: the service package never imports workers statically.
    serve_worker = importlib.import_module("workers.judge_worker").serve
    raise typer.Exit(serve_worker(judge, burst=burst, name=name))
