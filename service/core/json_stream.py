"""Read a JSON object field by field, and one array field element by element (pure, no I/O).

``json.loads`` builds the whole document before anyone can look at it: an array of a million
wrong values costs its full size in objects (8 to 24 times its bytes) and one long call. Reading
the big array a value at a time lets the reader stop at the first problems and keeps only one
element in memory. Each value is parsed by the json module's C scanner.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

_SCAN = json.JSONDecoder().scan_once


class _Array:
    def __repr__(self) -> str:
        return "ARRAY"


ARRAY = _Array()  # the value of (key, None, ARRAY): the streamed field is an array, its elements follow
_SPACE = re.compile(r"[ \t\n\r]*")
_KINDS = {"[": "an array", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}
# a field other than the streamed array (e.g. an evaluation's options) holds at most this many values: it is
# built whole, and JSON takes up to ~24 times its bytes as Python objects
MAX_FIELD_VALUES = 100_000


class JSONProblem(ValueError):
    """The text is not valid JSON (or not an object) at a place: ``parts`` of a pointer and a message."""

    def __init__(self, parts: tuple, detail: str):
        super().__init__(detail)
        self.parts = parts
        self.detail = detail


class TooLarge(JSONProblem):
    """A field holds more values than a reader builds (valid JSON, but refused): ``parts`` names the field."""


def _problem(text: str, position: int, parts: tuple, message: str) -> JSONProblem:
    error = json.JSONDecodeError(message, text, position)
    return JSONProblem(parts, f"{error.msg} at line {error.lineno} column {error.colno}")


def _skip(text: str, position: int) -> int:
    return _SPACE.match(text, position).end()


def _value(text: str, position: int, parts: tuple) -> tuple[Any, int]:
    """One JSON value at ``position`` and where it ends."""
    try:
        return _SCAN(text, position)
    except StopIteration as stop:  # its value is where a value was expected (inside this one, or here)
        at = stop.value if isinstance(stop.value, int) else position
        raise _problem(text, at, parts, "Expecting value") from None
    except json.JSONDecodeError as exc:
        raise _problem(text, exc.pos, parts, exc.msg) from None


def fields(text: str, streamed: str, max_values: int = MAX_FIELD_VALUES) -> Iterator[tuple[str, int | None, Any]]:
    """``(key, None, value)`` per field of the top-level object; the field ``streamed``, when it is an
    array, as ``(key, None, ARRAY)`` then ``(key, index, element)`` per element. Raises JSONProblem
    where the text stops being a JSON object (the caller may stop reading at any time), TooLarge where a
    field other than ``streamed`` holds more than ``max_values`` values (it is never built whole)."""
    position = _skip(text, 0)
    if not text.startswith("{", position):
        kind = _KINDS.get(text[position:position + 1])
        if kind is None:
            _value(text, position, ())  # raises unless it is a number
        raise JSONProblem((), f"the body must be a JSON object, not {kind or 'a number'}")
    position = _skip(text, position + 1)
    if text.startswith("}", position):
        return _end(text, position + 1)
    while True:
        if not text.startswith('"', position):
            raise _problem(text, position, (), "Expecting property name enclosed in double quotes")
        key, position = _value(text, position, ())
        position = _skip(text, position)
        if not text.startswith(":", position):
            raise _problem(text, position, (key,), "Expecting ':' delimiter")
        position = _skip(text, position + 1)
        if key == streamed and text.startswith("[", position):
            yield key, None, ARRAY
            position = yield from _elements(text, position, key)
        else:
            value, position = _bounded(text, position, (key,), [max_values])
            yield key, None, value
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif text.startswith("}", position):
            return _end(text, position + 1)
        else:
            raise _problem(text, position, (key,), "Expecting ',' delimiter")


def _elements(text: str, position: int, key: str) -> Iterator[tuple[str, int | None, Any]]:
    """The elements of the array at ``position`` (its ``[``); returns where the array ends."""
    position = _skip(text, position + 1)
    if text.startswith("]", position):
        return position + 1
    index = 0
    while True:
        element, position = _value(text, position, (key, index))
        yield key, index, element
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
            index += 1
        elif text.startswith("]", position):
            return position + 1
        else:
            raise _problem(text, position, (key, index), "Expecting ',' delimiter")


def _bounded(text: str, position: int, parts: tuple, budget: list[int]) -> tuple[Any, int]:
    """The value at ``position`` built a container at a time, each value counted against ``budget[0]``."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge(parts, f"holds more than limit max_field_values={MAX_FIELD_VALUES} JSON values")
    opener = text[position:position + 1]
    if opener not in ("[", "{"):
        return _value(text, position, parts)
    closer, is_object = ("}", True) if opener == "{" else ("]", False)
    result: Any = {} if is_object else []
    position = _skip(text, position + 1)
    if text.startswith(closer, position):
        return result, position + 1
    while True:
        if is_object:
            if not text.startswith('"', position):
                raise _problem(text, position, parts, "Expecting property name enclosed in double quotes")
            key, position = _value(text, position, parts)
            position = _skip(text, position)
            if not text.startswith(":", position):
                raise _problem(text, position, parts, "Expecting ':' delimiter")
            result[key], position = _bounded(text, _skip(text, position + 1), parts, budget)
        else:
            element, position = _bounded(text, position, parts, budget)
            result.append(element)
        position = _skip(text, position)
        if text.startswith(",", position):
            position = _skip(text, position + 1)
        elif text.startswith(closer, position):
            return result, position + 1
        else:
            raise _problem(text, position, parts, "Expecting ',' delimiter")


def _end(text: str, position: int) -> None:
    if _skip(text, position) != len(text):
        raise _problem(text, _skip(text, position), (), "Extra data")
