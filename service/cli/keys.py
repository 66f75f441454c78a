"""`judgeserve keys`: create, list and revoke API keys (run where the database is reachable)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.settings_options import settings_with

app = typer.Typer(help="API keys: every request needs one; each key belongs to a project.", no_args_is_help=True)
DataDir = Annotated[Optional[Path], typer.Option(help="Embedded mode: where the SQLite file lives.")]


@app.command("create")
def create(project: Annotated[str, typer.Option(help="Project name (created when new).")],
           name: Annotated[Optional[str], typer.Option(help="A label for the key.")] = None,
           data_dir: DataDir = None) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from service.db.engine import session_scope
    from service.projects.service import create_key

    with session_scope(settings_with(data_dir).effective_database_url()) as session:
        try:
            created = create_key(session, project, name)
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
    typer.echo(created.key)
    typer.echo(f"(project {created.project!r}, prefix {created.prefix}; shown once: store it now)", err=True)


@app.command("list")
def list_keys(project: Annotated[Optional[str], typer.Option(help="Only this project's keys.")] = None,
              data_dir: DataDir = None) -> None:
    """List keys by prefix, newest first (secrets are never shown again)."""
    from service.db.engine import session_scope
    from service.projects import repository

    with session_scope(settings_with(data_dir).effective_database_url()) as session:
        rows = repository.list_keys(session, project)
        lines = [f"{key.prefix}  {proj.name:20}  {key.name or '-':16}  created {key.created_at:%Y-%m-%d %H:%M}  "
                 f"{'revoked ' + format(key.revoked_at, '%Y-%m-%d %H:%M') if key.revoked_at else 'active'}"
                 for key, proj in rows]
    typer.echo("\n".join(lines) if lines else "no keys")


@app.command("revoke")
def revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix, as `keys list` shows it.")],
           data_dir: DataDir = None) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    from service.db.engine import session_scope
    from service.projects import repository

    with session_scope(settings_with(data_dir).effective_database_url()) as session:
        revoked = repository.revoke(session, prefix)
    if not revoked:
        typer.echo(f"no active key with prefix {prefix!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {prefix}")
