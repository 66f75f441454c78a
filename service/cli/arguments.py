"""Checks of command-line values that name a service object, run while the arguments are parsed.

An evaluation id is a UUID (``str(uuid.uuid4())``, made by the service when it stores a submission).
An empty or malformed one is refused with exit 2 and a message naming the argument or option before
the command body runs, so nothing is sent: without the check an empty id asked for
``/v1/evaluations/`` (a redirect to the list) and ``--evaluation ""`` listed every evaluation's reviews.
"""

from __future__ import annotations

import re
from typing import Optional

import typer

from service.cli.remote import ExitCode, fail

UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
EXAMPLE_ID = "3f2b8c1e-8d3a-4f6b-9c1d-2e3f4a5b6c7d"


def evaluation_id(param: typer.CallbackParam, value: Optional[str]) -> Optional[str]:
    """Typer callback: an evaluation id given as argument or option, lower-cased; exit 2 when empty or malformed."""
    if value is None:  # an option that was not given
        return None
    name = _display_name(param)
    text = value.strip()
    if not text:
        raise fail(f"{name} is empty: give an evaluation id (a UUID such as {EXAMPLE_ID}); nothing was sent",
                   ExitCode.USAGE)
    if not UUID_PATTERN.fullmatch(text):
        raise fail(f"{name}: {value!r} is not an evaluation id (a UUID such as {EXAMPLE_ID}); nothing was sent",
                   ExitCode.USAGE)
    return text.lower()


def _display_name(param: typer.CallbackParam) -> str:
    """How the user wrote the parameter: ``--gate-against`` for an option, ``EVALUATION_ID`` for an argument."""
    if param.param_type_name == "option":
        return max(param.opts, key=len)
    return param.human_readable_name.upper()


def gate_baseline(param: typer.CallbackParam, value: Optional[str]) -> Optional[str]:
    """Typer callback for ``--gate-against``: ``latest:…`` (a query, read by service.cli.gating) or an evaluation id."""
    if value is not None and value.strip().startswith("latest:"):
        return value.strip()
    return evaluation_id(param, value)
