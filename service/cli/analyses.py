"""`judgeserve analyse rating-vs-ranking`: do a judge's scores of two models imply the verdict it gives them side
by side? (POST /v1/analyses/rating-vs-ranking)"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from service.cli import arguments, remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL

app = typer.Typer(help="Analyses across evaluations.", no_args_is_help=True)
SHOWN = 20


@app.command("rating-vs-ranking")
def rating_vs_ranking(
    rating_x: Annotated[str, typer.Argument(help="Evaluation scoring model X's responses one by one.",
                                            callback=arguments.evaluation_id)],
    rating_y: Annotated[str, typer.Argument(help="Evaluation scoring model Y's responses one by one.",
                                            callback=arguments.evaluation_id)],
    comparison: Annotated[str, typer.Argument(help="Evaluation comparing X (response A) with Y (response B).",
                                              callback=arguments.evaluation_id)],
    url: URL = None, api_key: API_KEY = None, retries: RETRIES = 3, as_json: JSON_OUT = False,
) -> None:
    """Agreement of the preference X's and Y's scores imply with the comparison's verdict, per shared item:
    the rate with its 95% interval, the 3×3 matrix, Cohen's κ and the items that disagree."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        report = client.rating_vs_ranking(rating_x, rating_y, comparison)
    if as_json:
        remote.print_json(report.model_dump(mode="json"))
        return
    typer.echo(f"X = {report.model_x}, Y = {report.model_y}: {report.n_items} shared items")
    typer.echo(f"  agreement {remote.fmt(report.agreement_rate)}  95% CI {remote.fmt_ci(report.agreement_rate_ci95)}"
               f"  ({report.n_agree} of {report.n_items}), Cohen's kappa {remote.fmt(report.cohen_kappa)}")
    for warning in report.warnings:
        typer.echo(f"  warning: {warning}")
    console = remote.stdout()
    matrix = Table(title="scores imply (rows) vs the comparison's verdict (columns)")
    for column in ("", "x", "tie", "y"):
        matrix.add_column(column, justify="right")
    for row in ("x", "tie", "y"):
        matrix.add_row(row, *(str(report.matrix.get(row, {}).get(col, 0)) for col in ("x", "tie", "y")))
    console.print(matrix)
    for item in report.disagreements[:SHOWN]:
        typer.echo(f"  {item['item_id']}: scores {remote.fmt(item['score_x'])} vs {remote.fmt(item['score_y'])} "
                   f"imply {item['from_scores']}, the comparison says {item['from_comparison']}")
    if len(report.disagreements) > SHOWN:
        typer.echo(f"  … {len(report.disagreements) - SHOWN} more disagreeing items (--json lists them all)")
