"""`judgeserve`: serve, worker, demo, db, models, suites; and the remote (REST) commands for CI:
submit, status, verdicts, evaluations, leaderboard, reviews."""

from __future__ import annotations

import typer

from service.cli import (
    db, demo, evaluations, keys, models, results, reviews, serve, submit, suites, webhooks, worker,
)

app = typer.Typer(help="judgeserve: self-hosted LLM-as-judge evaluations.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("demo")(demo.demo)
app.add_typer(db.app, name="db")
app.add_typer(models.app, name="models")
app.add_typer(suites.app, name="suites")
# remote commands: talk to a running service over REST (service/cli/remote.py has their shared options)
app.command("submit")(submit.submit)
app.command("status")(results.status)
app.command("verdicts")(results.verdicts)
app.add_typer(evaluations.app, name="evaluations")
app.command("leaderboard")(results.leaderboard)
app.add_typer(reviews.app, name="reviews")
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    main()
