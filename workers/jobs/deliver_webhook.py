"""Send one webhook delivery (queued after the outbox commit, and on redelivery)."""

from __future__ import annotations

from service.webhooks.delivery import deliver
from workers import runtime


def run(delivery_id: str) -> str:
    """Job entry point (IDs only): one attempt if the delivery is still due; a no-op otherwise."""
    return deliver(runtime.settings(), delivery_id)
