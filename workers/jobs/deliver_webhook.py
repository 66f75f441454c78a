"""Send one webhook delivery (queued after the outbox commit, and on redelivery)."""

from __future__ import annotations

from service.webhooks.delivery import deliver, queue_evaluation_deliveries
from workers import runtime


def run(delivery_id: str) -> str:
    """Job entry point (IDs only): one attempt if the delivery is still due; a no-op otherwise."""
    return deliver(runtime.settings(), delivery_id)


def queue_evaluation(evaluation_id: str) -> str:
    """Job entry point (IDs only): queue one delivery job per pending delivery of the evaluation."""
    return f"queued {queue_evaluation_deliveries(runtime.settings(), runtime.dispatcher(), evaluation_id)} deliveries"
