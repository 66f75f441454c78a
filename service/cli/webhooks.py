"""`judgeserve webhooks`: register endpoints, read the delivery log, re-send a delivery (over REST)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from service.cli import remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL
from service.client import new_idempotency_key
from service.webhooks.schemas import ALL_EVENTS

EVENTS = tuple(ALL_EVENTS)

app = typer.Typer(help="Webhooks: create, list, deliveries, redeliver, default-secret, delete.",
                  no_args_is_help=True)


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


@app.command("create")
def create(
    url_: Annotated[str, typer.Argument(metavar="URL", help="http(s) URL that receives the events.")],
    event: Annotated[Optional[list[str]], typer.Option(
        "--event", "-e", help=f"An event to send (repeat; default: all of {', '.join(EVENTS)}).")] = None,
    description: Annotated[Optional[str], typer.Option(help="A note shown in lists.")] = None,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Register an endpoint; prints its signing secret (whsec_...) on stdout, once: store it."""
    body: dict[str, Any] = {"url": url_}
    if event:
        body["event_types"] = event
    if description is not None:
        body["description"] = description
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        created = client.request("POST", "/v1/webhooks", json=body,
                                 headers={"Idempotency-Key": new_idempotency_key()}).json()
    if as_json:
        remote.print_json(created)
        return
    typer.echo(created["secret"])
    typer.echo(f"webhook {created['id']} created for {created['url']} ({', '.join(created['event_types'])}); "
               "its signing secret is printed above and is not shown again", err=True)


@app.command("list")
def list_webhooks(url: URL = None, api_key: API_KEY = None, retries: RETRIES = 3, as_json: JSON_OUT = False) -> None:
    """The project's endpoints, with their status (a 410 from the receiver disables one)."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        found = client.request("GET", "/v1/webhooks").json()["data"]
    if as_json:
        remote.print_json(found)
        return
    table = Table(title=f"webhooks: {len(found)}")
    for column in ("id", "url", "events", "status", "description"):
        table.add_column(column)
    for hook in found:
        status = hook["status"] + (f" ({hook['disabled_reason']})" if hook.get("disabled_reason") else "")
        table.add_row(hook["id"], hook["url"] or "", ", ".join(hook["event_types"]), status, hook["description"] or "")
    remote.stdout().print(table)


@app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id (or the default secret's, for webhook_url).")],
    status: Annotated[Optional[str], typer.Option(
        help="Only pending, sending, succeeded, failed or cancelled ones.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many (newest first).")] = 20,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """The delivery log, newest first: every attempt's time, HTTP status or error, and duration."""
    params = {"limit": limit, **({"status": status} if status else {})}
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        page = client.request("GET", f"/v1/webhooks/{_seg(webhook_id)}/deliveries", params=params).json()
    if as_json:
        remote.print_json(page["data"])
        return
    table = Table(title=f"deliveries of webhook {webhook_id}: {len(page['data'])}")
    for column in ("delivery", "event", "evaluation", "status", "attempt", "started", "result", "ms"):
        table.add_column(column, justify="right" if column in ("attempt", "ms") else "left")
    for delivery in page["data"]:
        first = True
        for attempt in delivery["attempts"] or [None]:
            row = [delivery["id"], delivery["event_type"], delivery["evaluation_id"], delivery["status"]] if first \
                else ["", "", "", ""]
            first = False
            if attempt is None:
                table.add_row(*row, "", "", "not attempted yet", "")
                continue
            result = (f"HTTP {attempt['status_code']}" if attempt["status_code"] is not None else "") + \
                (f" {attempt['error']}" if attempt["error"] and attempt["status_code"] is None else "")
            table.add_row(*row, str(attempt["number"]) + (" (redelivery)" if attempt["trigger"] == "redelivery" else ""),
                          str(attempt["started_at"]), f"{result.strip()} → {attempt['outcome']}",
                          remote.fmt(attempt["duration_ms"], 0))
    remote.stdout().print(table)


@app.command("redeliver")
def redeliver(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")],
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id (judgeserve webhooks deliveries).")],
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Send a delivery again now, with the same webhook-id (receivers de-duplicate on it)."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        delivery = client.request(
            "POST", f"/v1/webhooks/{_seg(webhook_id)}/deliveries/{_seg(delivery_id)}/redeliver").json()
    if as_json:
        remote.print_json(delivery)
    else:
        typer.echo(f"delivery {delivery['id']} ({delivery['event_type']}, webhook-id {delivery['webhook_id']}) "
                   f"queued again for {delivery['url']}")


@app.command("default-secret")
def default_secret(url: URL = None, api_key: API_KEY = None, retries: RETRIES = 3, as_json: JSON_OUT = False) -> None:
    """The project's default secret (created on first use): it signs deliveries to an evaluation's webhook_url."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        found = client.request("GET", "/v1/webhooks/default-secret").json()
    if as_json:
        remote.print_json(found)
        return
    typer.echo(found["secret"])
    typer.echo(f"default secret of this project; its deliveries: judgeserve webhooks deliveries {found['id']}", err=True)


@app.command("delete")
def delete(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id.")],
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
) -> None:
    """Remove an endpoint with its delivery log."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        client.request("DELETE", f"/v1/webhooks/{_seg(webhook_id)}")
    typer.echo(f"webhook {webhook_id} deleted")
