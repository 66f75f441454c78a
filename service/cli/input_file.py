"""The outputs file of `judgeserve submit`/`run`: scanned line by line before anything is sent."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

MAX_REPORTED_LINES = 20


@dataclass
class InputFile:
    """What to upload (a path, or stdin's bytes) and the problems a local scan found, by 1-based line."""

    name: str
    source: Path | bytes
    n_items: int = 0
    n_problems: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_REPORTED_LINES:
            self.problems.append((line, message))


def open_input(path: Path, format: str) -> InputFile:
    """The input file; for ``items``, every line checked to be a JSON object (streamed, nothing kept).

    The service validates the items themselves (and names the line of any bad one); this scan only
    catches a broken file before anything is sent.
    """
    stdin = str(path) == "-"
    name = "<stdin>" if stdin else str(path)
    try:
        source: Path | bytes = sys.stdin.buffer.read() if stdin else path
        handle = io.BytesIO(source) if stdin else path.open("rb")
    except OSError as exc:
        result = InputFile(name=name, source=b"")
        result.problem(0, f"cannot read {name}: {exc.strerror or exc}")
        return result
    result = InputFile(name=name, source=source)
    if format != "items":
        handle.close()
        return result
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:  # without its line break, so a line cut short reports its own column, not "line 2 column 1"
                item = json.loads(line.rstrip(b"\r\n"))
            except json.JSONDecodeError as exc:
                result.problem(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            except ValueError as exc:  # not UTF-8
                result.problem(number, f"not UTF-8 text ({exc})")
                continue
            if not isinstance(item, dict):
                result.problem(number, f"expected a JSON object, got {type(item).__name__}")
                continue
            result.n_items += 1
    if not result.n_items and not result.n_problems:
        result.problem(0, f"{name} has no items (one JSON object per line)")
    return result
