"""`judgeserve suites load-examples`: store the bundled example suites (MT-Bench, Vicuna bench)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.settings_options import settings_with

app = typer.Typer(help="Suites.", no_args_is_help=True)


@app.command("load-examples")
def load_examples(
    data_dir: Annotated[Optional[Path], typer.Option(help="Embedded mode: where the SQLite file lives.")] = None,
    project: Annotated[str, typer.Option(help="The project the suites belong to (created when new).")] = "default",
) -> None:
    """Create the bundled example suites that do not exist yet, and print each one."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from service.db.engine import session_scope
    from service.projects import repository
    from service.suites.service import ensure_example_suites

    settings = settings_with(data_dir)
    try:
        with session_scope(settings.effective_database_url()) as session:
            owner = repository.get_project_by_name(session, project) or repository.add_project(session, project)
            results = ensure_example_suites(session, owner.id)
    except (OperationalError, ProgrammingError) as exc:
        typer.echo(f"cannot store the example suites ({type(exc).__name__}: {str(exc.orig).strip()}); "
                   "is the database up and migrated? run: judgeserve db upgrade", err=True)
        raise typer.Exit(1) from None
    for suite, created in results:
        state = "created" if created else "found"
        typer.echo(f"{state:7} {suite.name} version {suite.version} ({suite.n_items} items)")
