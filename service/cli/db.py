"""`judgeserve db upgrade`: migrate the database to the latest schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.settings_options import settings_with

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    data_dir: Annotated[Optional[Path], typer.Option(help="Embedded mode: where the SQLite file lives.")] = None,
) -> None:
    """Apply Alembic migrations up to ``revision``."""
    from service.db.migrate import current_revision, upgrade

    settings = settings_with(data_dir)
    url = settings.effective_database_url()
    upgrade(url, revision)
    typer.echo(f"database at revision {current_revision(url)}")
