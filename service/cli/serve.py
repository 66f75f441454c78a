"""`judgeserve serve`: run the gateway (embedded mode when no database/Redis URL is set)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.settings_options import settings_with


def serve(
    host: Annotated[Optional[str], typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 8321).")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Embedded mode: where the SQLite file lives.")] = None,
) -> None:
    """Run the gateway until interrupted."""
    import uvicorn

    from service.api.app import create_app

    settings = settings_with(data_dir, host=host, port=port)
    mode = "embedded (SQLite, in-process judging)" if settings.embedded else "production (Postgres + Redis/RQ)"
    typer.echo(f"judgeserve gateway on http://{settings.host}:{settings.port}  mode: {mode}", err=True)
    if settings.embedded:
        typer.echo(f"database: {settings.effective_database_url()}", err=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
