"""JSON text of the database's JSON columns: msgspec's encoder and decoder, the standard library's as fallback.

Both engines (``create_engine(json_serializer=..., json_deserializer=...)``) and the bulk writes
(``service.db.conflict``) use these. msgspec writes the same values as ``json.dumps`` (compact, in the
same key order) several times faster; values it does not take (e.g. numpy scalars, dicts with bool
keys, text with lone surrogates) go through ``json.dumps`` as before. One difference is deliberate:
a NaN or infinite float becomes JSON ``null`` (``json.dumps`` wrote ``NaN``, which is not JSON and
which Postgres refuses). Reading, anything msgspec refuses (``NaN`` or ``1e400`` in SQLite's JSON
text) is read by ``json.loads``.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def dumps(value: Any) -> str:
    """The JSON text of a value."""
    try:
        return _encoder.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        return json.dumps(value)


def loads(data: str | bytes) -> Any:
    """The value of a JSON text."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)
