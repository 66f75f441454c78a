"""The judge-call cache: queries only (what is cacheable is decided by JudgeRequest.cache_key).

An entry serves only the project that made it (its stored key binds the call's key to the project),
unless the judge's configuration says ``cache_scope: global``: then every project's identical call
hits it, which saves judge calls across tenants but tells a project (by ``cached: true``) that
another one judged that exact call before. Entries made before scopes existed have no project and
serve global judges only (see migration 0010).
"""

from __future__ import annotations

import hashlib
from typing import Literal, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.judging import JudgeOutput
from service.db.conflict import among, insert_ignoring_conflicts
from service.models import JudgeCacheEntry


def lookup(session: Session, keys: Sequence[str]) -> dict[str, JudgeOutput]:
    """Cached outputs for the keys that have one (one query on Postgres; plain rows, no ORM objects)."""
    found = {}
    for condition in among(session, JudgeCacheEntry.key, sorted(set(keys))):
        query = select(JudgeCacheEntry.key, JudgeCacheEntry.text, JudgeCacheEntry.verdict_top_logprobs,
                       JudgeCacheEntry.rationale, JudgeCacheEntry.prompt_tokens,
                       JudgeCacheEntry.completion_tokens).where(condition)
        for key, text, logprobs, rationale, prompt_tokens, completion_tokens in session.execute(query):
            found[key] = JudgeOutput(
                text=text, verdict_top_logprobs=logprobs, rationale=rationale, prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens, latency_ms=0.0, extra={"cached": True})
    return found


def scoped_key(call_key: str, scope: Literal["project", "global"], project_id: str) -> str:
    """The stored key of a call's entry: the call's key for a global judge, else one bound to the project."""
    if scope == "global":
        return call_key
    return hashlib.sha256(f"{project_id}\n{call_key}".encode()).hexdigest()


def store(session: Session, fingerprint: str, entries: Sequence[tuple[str, JudgeOutput]],
          project_id: str | None = None) -> None:
    """Remember successful outputs under their stored keys (one statement; existing keys are kept);
    ``project_id``: the project whose entries they are (None for a global judge's)."""
    rows = {
        key: {"key": key, "project_id": project_id, "fingerprint": fingerprint, "text": storable(out.text),
              "verdict_top_logprobs": out.verdict_top_logprobs, "rationale": storable(out.rationale),
              "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens}
        for key, out in entries if out.error is None
    }
    insert_ignoring_conflicts(session, JudgeCacheEntry, list(rows.values()), ("key",))


def storable(text: str | None) -> str | None:
    """Text without NUL characters, which Postgres cannot store."""
    return text.replace("\x00", "\ufffd") if text else text
