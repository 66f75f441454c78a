"""Where a submission's problem is: a JSON pointer into the body or an uploaded line, or a named parameter."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from service.errors import FieldError


def pointer(*parts: Any) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped)


def pydantic_errors(exc: ValidationError, *prefix: Any) -> list[FieldError]:
    """Pydantic errors as field errors with pointers below ``prefix``."""
    return [
        FieldError(pointer(*prefix, *err["loc"]), err["msg"])
        for err in exc.errors(include_url=False)
    ]


def at(where: tuple, detail: str) -> FieldError:
    """A problem at the pointer parts ``where`` (the whole document when empty)."""
    return FieldError(pointer(*where) if where else "", detail)


def parameter_error(name: str, detail: str) -> FieldError:
    """A problem with a query parameter or header (not in the body, so no pointer)."""
    problem = FieldError(None, detail)  # type: ignore[arg-type]
    problem["parameter"] = name
    return problem


def with_lines(errors: list[FieldError]) -> list[FieldError]:
    """Each error also names its 1-based line (NDJSON) or record index (AlpacaEval), when it has one."""
    for error in errors:
        parts = (error.get("pointer") or "").split("/")
        if len(parts) > 2 and parts[1] in ("lines", "records") and parts[2].isdigit():
            error["line" if parts[1] == "lines" else "record"] = int(parts[2])
    return errors
