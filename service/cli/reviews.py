"""`judgeserve reviews`: list the human review queue and record labels."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from service.cli import arguments, remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL, ExitCode, fail

app = typer.Typer(help="The human review queue: `judgeserve reviews` lists, `judgeserve reviews label` labels.",
                  invoke_without_command=True)


@app.callback()
def list_reviews(
    ctx: typer.Context,
    evaluation: Annotated[Optional[str], typer.Option(
        "--evaluation", "-e", help="Only this evaluation's.", callback=arguments.evaluation_id)] = None,
    status: Annotated[str, typer.Option(help="open, done or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, help="At most this many reviews.")] = 50,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """List reviews, highest BPDE (the judge's disagreement with itself) first."""
    if ctx.invoked_subcommand is not None:
        return
    if status not in ("open", "done", "all"):
        raise fail(f"--status must be open, done or all, not {status!r}", ExitCode.USAGE)
    found = []
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        for review in client.reviews(status=status, evaluation_id=evaluation,
                                     page_size=min(limit, 500)):
            found.append(review)
            if len(found) >= limit:
                break
    if as_json:
        remote.print_json([r.model_dump(mode="json") for r in found])
        return
    table = Table(title=f"reviews ({status}{', evaluation ' + evaluation if evaluation else ''}): {len(found)}")
    for column in ("review", "evaluation", "item", "bpde", "judge verdict", "status", "label", "reviewer"):
        table.add_column(column, justify="right" if column == "bpde" else "left")
    for r in found:
        table.add_row(r.id, r.evaluation_id, r.item_id, remote.fmt(r.bpde), _verdict(r.verdict), r.status,
                      _label(r.label), r.reviewer or "")
    remote.stdout().print(table)


@app.command("label")
def label(
    review_id: Annotated[str, typer.Argument(help="The review's id.")],
    reviewer: Annotated[str, typer.Option(help="Who gives the label.")],
    label_: Annotated[Optional[str], typer.Option(
        "--label", help="A choice label (the protocol's label_form: `judgeserve protocols --json`), e.g. a or tie.")
    ] = None,
    score: Annotated[Optional[float], typer.Option(help="A score label: the score (1..K).")] = None,
    fields: Annotated[Optional[str], typer.Option(
        "--fields", help="Other label fields as a JSON object, e.g. '{\"goals\": {...}}'.")] = None,
    note: Annotated[Optional[str], typer.Option(help="A note kept with the label.")] = None,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Record a human label: it replaces the judge's verdict and the evaluation's metrics are recomputed."""
    extra: dict[str, Any] = {}
    if fields:
        try:
            extra = json.loads(fields)
        except json.JSONDecodeError as exc:
            raise fail(f"--fields is not valid JSON ({exc.msg})", ExitCode.USAGE) from None
        if not isinstance(extra, dict):
            raise fail("--fields must be a JSON object", ExitCode.USAGE)
    if label_ is None and score is None and not extra:
        raise fail("give the label: --label, --score or --fields", ExitCode.USAGE)
    if score is not None and score == int(score):
        score = int(score)
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        review = client.record_review(review_id, reviewer=reviewer, label=label_, score=score, note=note, **extra)
    if as_json:
        remote.print_json(review.model_dump(mode="json"))
    else:
        typer.echo(f"review {review.id} ({review.item_id} of evaluation {review.evaluation_id}) labelled "
                   f"{_label(review.label)} by {review.reviewer}")


def _verdict(verdict: dict[str, Any]) -> str:
    parts = [str(verdict[k]) for k in ("outcome",) if verdict.get(k) is not None]
    if verdict.get("score") is not None:
        parts.append(f"score {remote.fmt(verdict['score'])}")
    return " ".join(parts)


def _label(label: dict[str, Any] | None) -> str:
    if not label:
        return ""
    return ", ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in label.items())
