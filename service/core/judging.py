"""Typed records exchanged between protocols and judge backends (no I/O here)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _encode_string  # json.dumps's escaper (ensure_ascii=False)
from typing import Any, Protocol, Sequence


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """One judge call: a chat prompt plus how to sample the answer.

    ``choices`` constrains the output to one of the labels (structured output).
    ``rationale_tokens`` > 0 asks the backend to let the judge reason first, then
    give the constrained verdict (two generations, the second continuing the first).
    """

    messages: tuple[dict[str, str], ...]
    choices: tuple[str, ...]
    temperature: float = 0.0
    seed: int | None = None
    top_logprobs: int = 20
    rationale_tokens: int = 0
    # asked after the rationale, before the constrained verdict
    verdict_followup: str = ""
    # when set, the output is JSON constrained to this JSON Schema (a JSON text) instead of a label
    json_schema: str | None = None
    max_tokens: int = 512
    # when set, no generation: cosine similarity of texts[1:] to texts[0] (embedding model)
    similarity_texts: tuple[str, ...] = ()
    # the prompt template (protocol/version) that rendered this request
    template: str = ""
    # the prompt hash, computed once (the cache key and the stored row both need it); not compared, not copied
    _prompt_hash: str | None = field(default=None, init=False, repr=False, compare=False)

    def prompt_hash(self) -> str:
        """Stable hash of the rendered prompt (messages, or the texts of a similarity call)."""
        memo = self._prompt_hash
        if memo is None:
            if self.similarity_texts:
                rendered = [list(self.messages), list(self.similarity_texts)]
                text = json.dumps(rendered, sort_keys=True, ensure_ascii=False)
                memo = hashlib.sha256(text.encode("utf-8")).hexdigest()
            else:
                memo = hashlib.sha256(_messages_json(self.messages)).hexdigest()
            object.__setattr__(self, "_prompt_hash", memo)
        return memo

    def cache_key(self, fingerprint: str) -> str | None:
        """Judge-call cache key: judge fingerprint + prompt hash + sampling; None when not reproducible.

        Sampling at temperature > 0 without a fixed seed gives a different answer each time,
        so such a call is never cached.
        """
        if self.similarity_texts or (self.temperature > 0 and self.seed is None):
            return None
        seed = self.seed if self.temperature > 0 else None  # greedy decoding ignores the seed
        sampling = _sampling_json(self.choices, self.temperature, seed, self.top_logprobs, self.rationale_tokens,
                                  self.verdict_followup, self.json_schema, self.max_tokens)
        # the same text as json.dumps([fingerprint, prompt_hash, sampling], sort_keys=True, ensure_ascii=False),
        # built from parts that repeat across a chunk's calls (keys must not change between versions)
        text = b"".join((_key_prefix(fingerprint), self.prompt_hash().encode("ascii"), sampling))
        return hashlib.sha256(text).hexdigest()


def _messages_json(messages: tuple[dict[str, str], ...]) -> bytes:
    """``json.dumps(list(messages), sort_keys=True, ensure_ascii=False)`` as UTF-8, built directly for chat messages.

    Messages of exactly a role and a content (text) are written as json.dumps writes them (a system
    message once per distinct text); anything else goes through json.dumps. A test compares both on
    tricky text: prompt hashes must not change.
    """
    parts = []
    for message in messages:
        if (type(message) is not dict or message.keys() != _ROLE_CONTENT or type(message["content"]) is not str
                or type(message["role"]) is not str):
            return json.dumps(list(messages), sort_keys=True, ensure_ascii=False).encode("utf-8")
        if message["role"] == "system":
            parts.append(_system_message_json(message["content"]))
        else:
            parts += (b'{"content": ', _json_bytes(message["content"]), b', "role": ', _role_json(message["role"]), b"}")
        parts.append(b", ")
    return b"".join([b"[", *parts[:-1], b"]"])


_ROLE_CONTENT = {"content": "", "role": ""}.keys()
# UTF-8 bytes that json.dumps writes as they are or escapes with a backslash and a letter: all but the other
# ASCII controls (multi-byte sequences hold no ASCII byte)
_SIMPLE_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in b"\n\r\t")


def _json_bytes(text: str) -> bytes:
    """``json.dumps(text, ensure_ascii=False)`` in UTF-8.

    Text without ASCII controls other than newlines, returns and tabs (most prompts) is escaped by
    bytes.replace, a few times faster than json's escaper over the whole text; other text goes through
    that escaper.
    """
    raw = text.encode("utf-8")
    if raw.translate(None, _SIMPLE_BYTES):  # a control json writes as \\uXXXX, \\b or \\f
        return _encode_string(text).encode("utf-8")
    escaped = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')  # backslashes first: the quotes' are new
    escaped = escaped.replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\t", b"\\t")
    return b'"' + escaped + b'"'


@functools.lru_cache(maxsize=64)
def _system_message_json(content: str) -> bytes:
    return b'{"content": ' + _json_bytes(content) + b', "role": "system"}'


@functools.lru_cache(maxsize=64)
def _role_json(role: str) -> bytes:
    return _json_bytes(role)


@functools.lru_cache(maxsize=64)
def _key_prefix(fingerprint: str) -> bytes:
    """The start of a cache key's JSON text, up to the prompt hash's string."""
    return f"[{json.dumps(fingerprint, ensure_ascii=False)}, \"".encode("utf-8")


@functools.lru_cache(maxsize=4096, typed=True)  # typed: 0 and 0.0 encode differently
def _sampling_json(choices: tuple[str, ...], temperature: float, seed: int | None, top_logprobs: int,
                   rationale_tokens: int, verdict_followup: str, json_schema: str | None, max_tokens: int) -> bytes:
    """The rest of a cache key's JSON text after the prompt hash: its closing quote and the sampling (sorted keys)."""
    sampling = {"choices": list(choices), "temperature": temperature, "seed": seed, "top_logprobs": top_logprobs,
                "rationale_tokens": rationale_tokens, "verdict_followup": verdict_followup}
    if json_schema is not None:
        sampling.update(json_schema=json_schema, max_tokens=max_tokens)
    return f"\", {json.dumps(sampling, sort_keys=True, ensure_ascii=False)}]".encode("utf-8")


@dataclass(slots=True)
class JudgeOutput:
    """What a backend returns for one request."""

    text: str
    # log-probabilities of the top tokens at the verdict position: {token_text: logprob}
    verdict_top_logprobs: dict[str, float] | None = None
    rationale: str | None = None
    # similarity calls: cosine similarity of each text after the first to the first
    similarities: list[float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class JudgeBackend(Protocol):
    """The one interface every judge backend implements."""

    fingerprint: str

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeOutput]:
        """Answer all requests, in order, batching them as the engine allows."""
        ...

    def close(self) -> None:
        """Release the engine or connections."""
        ...
