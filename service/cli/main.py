"""`judgeserve`: serve, worker, demo, db, models."""

from __future__ import annotations

import typer

from service.cli import db, demo, keys, models, serve, suites, worker

app = typer.Typer(help="judgeserve: self-hosted LLM-as-judge evaluations.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("demo")(demo.demo)
app.add_typer(db.app, name="db")
app.add_typer(models.app, name="models")
app.add_typer(suites.app, name="suites")
app.add_typer(keys.app, name="keys")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    main()
