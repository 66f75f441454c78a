"""`judgeserve protocols`: what each protocol of the service accepts and reports (GET /v1/protocols)."""

from __future__ import annotations

from rich.table import Table

from service.cli import remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL


def protocols(url: URL = None, api_key: API_KEY = None, retries: RETRIES = 3, as_json: JSON_OUT = False) -> None:
    """List the service's protocols: headline metric, metric kind, item fields and what each judges."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        described = client.protocols()
    if as_json:
        remote.print_json([protocol.model_dump(mode="json") for protocol in described])
        return
    table = Table(title="Protocols")
    for column in ("protocol", "headline metric", "kind", "item fields (* required)", "description"):
        table.add_column(column)
    for protocol in described:
        item = protocol.schemas.get("item", {})
        required = set(item.get("required", []))
        fields = ", ".join(f"{name}{'*' if name in required else ''}" for name in item.get("properties", {}))
        table.add_row(protocol.name, protocol.headline_metric, _kind(protocol.metric_kind), fields,
                      protocol.description)
    remote.stdout().print(table)


def _kind(metric_kind: dict) -> str:
    bounds = metric_kind.get("range")
    if metric_kind.get("kind") == "binary":
        return f"binary ({metric_kind.get('counted_outcome')})"
    return f"{metric_kind.get('kind')} [{bounds[0]:g}, {bounds[1]:g}]" if bounds else str(metric_kind.get("kind"))
