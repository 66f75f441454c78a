"""`judgeserve`: serve, worker, demo, db, models, suites, keys; and the remote (REST) commands for CI:
run (from judgeserve.yaml), submit, status, verdicts, evaluations, leaderboard, protocols, reviews, webhooks.

The remote commands need only the base install (the client); the server commands import the gateway,
the database and the workers inside the command and first check the `server` extra (service/cli/server_extra.py).
"""

from __future__ import annotations

import typer

from service.cli import (
    analyses, db, demo, evaluations, keys, models, protocols, results, reviews, run, serve, submit, suites, webhooks, worker,
)
from service.cli.server_extra import server_command, server_group

app = typer.Typer(help="judgeserve: self-hosted LLM-as-judge evaluations.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
# server commands: need `pip install 'judgeserve[server]'` (cpu/gpu imply it)
app.command("serve")(server_command(serve.serve))
app.command("worker")(server_command(worker.worker))
app.command("demo")(server_command(demo.demo))
app.add_typer(server_group(db.app), name="db")
app.add_typer(server_group(models.app), name="models")
app.add_typer(suites.app, name="suites")  # create/list/show are remote; load-examples needs the server
app.add_typer(server_group(keys.app), name="keys")
# remote commands: talk to a running service over REST (service/cli/remote.py has their shared options)
app.command("submit")(submit.submit)
app.command("run")(run.run)
app.command("status")(results.status)
app.command("verdicts")(results.verdicts)
app.add_typer(evaluations.app, name="evaluations")
app.command("leaderboard")(results.leaderboard)
app.command("protocols")(protocols.protocols)
app.add_typer(reviews.app, name="reviews")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(analyses.app, name="analyse")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # vLLM spawns processes: the guard is required
    main()
