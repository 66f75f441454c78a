"""Commands that run the gateway, the workers or the database need the `server` extra; the others do not.

``pip install judgeserve`` installs the client and the CLI only. The server commands keep their heavy
imports inside the command and are registered through ``server_command``/``server_group``, which check
the extra first, so without it they exit 2 with the install hint instead of an ImportError.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any, Callable, TypeVar

import typer

SERVER_HINT = "this command needs the server extra: pip install 'judgeserve[server]'"
# top-level modules of the server extra's distributions (tests/test_packaging.py keeps them in the extra)
SERVER_MODULES = (
    "fastapi", "uvicorn", "pydantic_settings", "sqlalchemy", "alembic", "psycopg", "redis", "rq", "numpy",
    "scipy", "prometheus_client", "standardwebhooks",
)

F = TypeVar("F", bound=Callable[..., Any])


def missing_server_modules() -> list[str]:
    """The server extra's modules this Python cannot import."""
    missing = []
    for name in SERVER_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require_server() -> None:
    """Exit 2 with the install hint when the server extra is not installed."""
    missing = missing_server_modules()
    if missing:
        typer.echo(f"{SERVER_HINT}\n(not installed: {', '.join(missing)})", err=True)
        raise typer.Exit(2)


def server_command(command: F) -> F:
    """``command`` checking the server extra before it runs (its --help works without the extra)."""
    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> Any:
        require_server()
        return command(*args, **kwargs)
    return checked  # type: ignore[return-value]


def server_group(group: typer.Typer) -> typer.Typer:
    """``group`` with every one of its commands checking the server extra first."""
    for info in group.registered_commands:
        if info.callback is not None:
            info.callback = server_command(info.callback)
    return group
