"""How deep a JSON document nests, checked without recursion before anything parses it (pure, no I/O).

Python's json module (and the validators that use it) recurse once per level: a value nested
10,000 deep raises RecursionError. ``too_deep`` answers from the document's brackets outside
strings with a few passes of C-level byte operations; ``deep_path`` then names where the limit is
passed, scanning tokens up to that point only.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 64  # arrays and objects inside each other; deeper is a 422 naming where

_KEEP = b'[]{}"'
_DELETE = bytes(b for b in range(256) if b not in _KEEP)
_TO_PARENS = bytes.maketrans(b"[]{}", b"()()")
_RUN = re.compile(rb"\(+|\)+")
_CHUNK = 1 << 20  # bytes per step of the C-level passes (each holds the interpreter only briefly)
_FEW_RUNS = 500_000  # up to this many runs, counting them one by one is faster than removing pairs
_TOKEN_BUDGET = 2_000_000  # tokens deep_path reads before it settles for the character position
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')


def depth_detail(limit: int = MAX_JSON_DEPTH) -> str:
    """The message for a value nested past the limit."""
    return f"nested deeper than limit max_json_depth={limit} (arrays and objects inside each other)"


def too_deep(document: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects nest more than ``limit`` deep (brackets inside strings do not count).

    Text that is not valid JSON may give a false True (e.g. an unterminated string); ``deep_path``
    then finds no place, and the parser reports the real problem.
    """
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return _parens_too_deep(_structure(data), limit)


def _structure(data: bytes) -> bytes:
    """The brackets outside strings, as ``(`` and ``)``.

    A backslash pair and an escaped quote are dropped first, so every quote left delimits a string. The
    work goes a chunk at a time (no escape is cut in two): no single step holds the interpreter long.
    """
    pieces: list[bytes] = []
    inside = False  # whether the chunk starts inside a string
    for chunk in _chunks(data, lambda cut: data[cut - 1] == 0x5C):  # never cut after a backslash
        skeleton = chunk.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_TO_PARENS, _DELETE)
        # a quote next to a quote opens and closes a string with no bracket in it (or closes one string and
        # opens the next with no bracket between): dropping such pairs keeps the quotes alternating
        skeleton = skeleton.replace(b'""', b"")
        if b'"' in skeleton:
            parts = skeleton.split(b'"')
            pieces.extend(parts[1 if inside else 0::2])  # the pieces outside strings
            inside ^= len(parts) % 2 == 0
        elif not inside:
            pieces.append(skeleton)
    return b"".join(pieces)


def _chunks(data: bytes, bad_cut, size: int = _CHUNK) -> list[bytes]:
    """``data`` in pieces of about ``size`` bytes, moving each cut back while ``bad_cut(cut)``."""
    pieces, start = [], 0
    while start < len(data):
        cut = min(start + size, len(data))
        while start < cut < len(data) and bad_cut(cut):
            cut -= 1
        if cut == start:  # nowhere to cut in this piece: take all the rest
            cut = len(data)
        pieces.append(data[start:cut])
        start = cut
    return pieces


def _without_pairs(parens: bytes) -> bytes:
    """``parens`` with every adjacent ``()`` removed, a chunk at a time (no ``()`` is cut in two)."""
    if len(parens) <= _CHUNK:
        return parens.replace(b"()", b"")
    return b"".join(piece.replace(b"()", b"")
                    for piece in _chunks(parens, lambda cut: parens[cut - 1:cut + 1] == b"()"))


def _parens_too_deep(parens: bytes, limit: int) -> bool:
    """Whether a string of parentheses has a matched pair nested more than ``limit`` deep.

    With few runs of ``(`` and ``)`` the depth is counted run by run. Otherwise every innermost ``()`` is
    removed once per level, which is fast for shallow levels and while it shrinks the string a lot (wide,
    shallow documents); when it stops doing so, the runs are counted.
    """
    if parens.count(b")(") < _FEW_RUNS:
        return _deepest_run(parens, limit)
    rounds = 0
    while rounds < limit:
        if b"()" not in parens:  # what is left never closes: ")))(((" (only in text that is not JSON)
            return parens.count(b"(") + rounds > limit
        shorter = _without_pairs(parens)
        rounds += 1
        shrunk_little = len(parens) - len(shorter) < len(parens) // 4
        parens = shorter
        if shrunk_little and rounds >= 8:
            return _deepest_run(parens, limit - rounds)
    return b"()" in parens


def _deepest_run(parens: bytes, limit: int) -> bool:
    """Whether brackets nest more than ``limit`` deep, counting runs of ``(`` and ``)``."""
    depth = 0
    for run in _RUN.finditer(parens):
        length = run.end() - run.start()
        if parens[run.start()] == 0x28:  # "("
            depth += length
            if depth > limit:
                return True
        else:
            depth = max(0, depth - length)
    return False


UNLOCATED = ("<not located>",)  # deep_path's answer when its token budget ran out first


def deep_path(text: str, limit: int = MAX_JSON_DEPTH, budget: int = _TOKEN_BUDGET) -> tuple[Any, ...] | None:
    """The pointer parts of the first array/object nested past ``limit``, or None when there is none
    (UNLOCATED when it is not within the first ``budget`` tokens: the search costs a bounded time)."""
    stack: list[list[Any]] = []  # per open container: [is_object, current key or index, expecting a key]
    for count, token in enumerate(_TOKEN.finditer(text)):
        if count >= budget:
            return UNLOCATED
        mark = token.group()
        if mark in "[{":
            if len(stack) >= limit:
                return tuple(entry[1] for entry in stack)
            stack.append([mark == "{", None if mark == "{" else 0, mark == "{"])
        elif mark in "]}":
            if stack:
                stack.pop()
        elif not stack:
            continue
        elif mark == ",":
            top = stack[-1]
            if top[0]:
                top[2] = True
            else:
                top[1] += 1
        elif mark == ":":
            stack[-1][2] = False
        elif stack[-1][0] and stack[-1][2]:  # a string where an object expects its key
            try:
                stack[-1][1] = json.loads(mark)
            except ValueError:
                stack[-1][1] = mark[1:-1]
    return None


def depth_problem(document: bytes | str, limit: int = MAX_JSON_DEPTH) -> tuple[tuple[Any, ...], str] | None:
    """``(pointer parts, message)`` when the document nests past ``limit``, else None."""
    if not too_deep(document, limit):
        return None
    text = document if isinstance(document, str) else document.decode("utf-8", "replace")
    parts = deep_path(text, limit)
    if parts is UNLOCATED:
        return (), f"{depth_detail(limit)}, past its first {_TOKEN_BUDGET:,} tokens"
    return None if parts is None else (parts, depth_detail(limit))
