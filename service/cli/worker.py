"""`judgeserve worker --judge NAME`: replaces itself with `python -m workers --judge NAME`."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer


def worker(
    judge: Annotated[str, typer.Option(help="Name of the judge this worker serves.")],
    burst: Annotated[bool, typer.Option(help="Exit when the queue is empty.")] = False,
    name: Annotated[Optional[str], typer.Option(help="RQ worker name.")] = None,
) -> None:
    """Start a judge worker (production mode: needs the database and Redis URLs)."""
    # exec, not import: the service package never imports the workers package.
    argv = [sys.executable, "-m", "workers", "--judge", judge]
    argv += ["--burst"] if burst else []
    argv += ["--name", name] if name else []
    os.execv(sys.executable, argv)
