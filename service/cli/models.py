"""`judgeserve models prepare`: convert the bundled judge model once (cached)."""

from __future__ import annotations

from typing import Annotated, Optional
from pathlib import Path

import typer

from service.cli.settings_options import settings_with

app = typer.Typer(help="Judge models.", no_args_is_help=True)


@app.command("prepare")
def prepare(
    cache_dir: Annotated[Optional[Path], typer.Option(help="Model cache directory.")] = None,
) -> None:
    """Convert the bundled SmolLM2 judge to a model directory vLLM loads, and print its path."""
    from service.judges.bundled import ensure_bundled_model

    settings = settings_with(model_cache_dir=cache_dir)
    typer.echo(str(ensure_bundled_model(settings.resolved_model_cache_dir())))
