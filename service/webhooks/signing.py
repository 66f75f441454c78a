"""Standard Webhooks signing (the ``standardwebhooks`` package, not hand-written HMAC)."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timezone
from typing import Any

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body_of(payload: dict[str, Any]) -> str:
    """The exact bytes (as text) that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def signed_headers(secret: str, message_id: str, body: str, when: datetime | None = None) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for one attempt.

    The id stays the event's on every attempt; the timestamp is the attempt's (receivers reject
    old timestamps, so a retry an hour later must carry a fresh one).
    """
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    timestamp = int(when.timestamp())
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, timezone.utc), body)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
