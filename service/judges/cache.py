"""The judge-call cache: queries only (what is cacheable is decided by JudgeRequest.cache_key).

An entry is the judgment row of a successful call the engine made: the row carries the call's
stored key (``judgments.cache_key``), so a fresh output is written once. Entries stored before that
(migration 0012) stay in the ``judge_cache`` table, under keys of the same formula, and are read too.

An entry serves only the project that made it (its stored key binds the call's key to the project),
unless the judge's configuration says ``cache_scope: global``: then every project's identical call
hits it, which saves judge calls across tenants but tells a project (by ``cached: true``) that
another one judged that exact call before. ``judge_cache`` entries made before scopes existed have
no project and serve global judges only (see migration 0010).
"""

from __future__ import annotations

import hashlib
from typing import Literal, Sequence

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from service.core.judging import JudgeOutput
from service.db import json_codec
from service.db.conflict import among
from service.models import JudgeCacheEntry, Judgment

# what a hit needs, from a keyed judgment and from an older judge_cache entry (same order)
_JUDGMENT_COLUMNS = (Judgment.cache_key, Judgment.raw_output, Judgment.verdict_top_logprobs, Judgment.rationale,
                     Judgment.prompt_tokens, Judgment.completion_tokens)
_ENTRY_COLUMNS = (JudgeCacheEntry.key, JudgeCacheEntry.text, JudgeCacheEntry.verdict_top_logprobs,
                  JudgeCacheEntry.rationale, JudgeCacheEntry.prompt_tokens, JudgeCacheEntry.completion_tokens)


def lookup(session: Session, keys: Sequence[str]) -> dict[str, JudgeOutput]:
    """Cached outputs for the keys that have one (one query on Postgres; plain rows, no ORM objects)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # the keys as one JSON text: psycopg dumps a 400-element array parameter element by element in Python
        rows = session.connection().exec_driver_sql(_BY_KEY, {"keys": json_codec.dumps(wanted)})
    else:
        rows = (row for in_judgments, in_entries in zip(among(session, Judgment.cache_key, wanted),
                                                         among(session, JudgeCacheEntry.key, wanted))
                for row in session.execute(union_all(
                    select(*_JUDGMENT_COLUMNS).where(in_judgments, Judgment.error.is_(None)),
                    select(*_ENTRY_COLUMNS).where(in_entries))))
    return {key: JudgeOutput(text=output, verdict_top_logprobs=logprobs, rationale=rationale,
                             prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_ms=0.0,
                             extra={"cached": True})
            for key, output, logprobs, rationale, prompt_tokens, completion_tokens in rows}


# One index probe per key: Postgres plans "cache_key = ANY(400 keys)" as a scan of the whole table up to
# tens of thousands of judgments (measured 15 ms against 2.5 ms for the probes at 40,000 rows).
_BY_KEY = (
    "WITH k(key) AS MATERIALIZED (SELECT json_array_elements_text(%(keys)s::json)::varchar) "
    "SELECT k.key, j.raw_output, j.verdict_top_logprobs, j.rationale, j.prompt_tokens, j.completion_tokens "
    "FROM k CROSS JOIN LATERAL ("
    "SELECT raw_output, verdict_top_logprobs, rationale, prompt_tokens, completion_tokens FROM judgments "
    "WHERE cache_key = k.key AND error IS NULL LIMIT 1) AS j "
    "UNION ALL "
    "SELECT k.key, e.text, e.verdict_top_logprobs, e.rationale, e.prompt_tokens, e.completion_tokens "
    "FROM k JOIN judge_cache AS e ON e.key = k.key")


def entry_key(stored_key: str | None, output: JudgeOutput) -> str | None:
    """The cache key a call's judgment row carries: its stored key when the engine answered it, else None."""
    if stored_key is None or output.error is not None or output.extra.get("cached"):
        return None
    return stored_key


def scoped_key(call_key: str, scope: Literal["project", "global"], project_id: str) -> str:
    """The stored key of a call's entry: the call's key for a global judge, else one bound to the project."""
    if scope == "global":
        return call_key
    return hashlib.sha256(f"{project_id}\n{call_key}".encode()).hexdigest()


def storable(text: str | None) -> str | None:
    """Text without NUL characters, which Postgres cannot store."""
    return text.replace("\x00", "\ufffd") if text else text
