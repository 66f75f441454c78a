"""API key format and hashing (pure): ``js_<prefix>_<secret>``; only the SHA-256 of a key is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PATTERN = re.compile(r"^js_([a-z0-9]{10})_([A-Za-z0-9_-]{32,64})$")


def new_key() -> tuple[str, str]:
    """A fresh key and its public prefix (shown in listings, used to revoke)."""
    prefix = secrets.token_hex(5)
    return f"js_{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_hash(key: str) -> str:
    """The stored form of a key (keys are random and long, so a plain SHA-256 suffices)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(key: str) -> bool:
    """Whether a bearer token has the shape of one of our keys."""
    return bool(KEY_PATTERN.match(key))
