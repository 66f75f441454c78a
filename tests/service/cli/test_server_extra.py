"""Server commands check the `server` extra first: exit 2 with the install hint when it is missing."""

from __future__ import annotations

from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from service.cli import server_extra
from service.cli.server_extra import SERVER_HINT, missing_server_modules, require_server, server_command, server_group


def small_app(calls: list[int]) -> typer.Typer:
    group = typer.Typer()

    @group.command("run")
    def run(count: Annotated[int, typer.Option(help="How many times.")] = 1) -> None:
        """Run the thing."""
        calls.append(count)

    app = typer.Typer()
    app.command("go")(server_command(run))
    app.add_typer(server_group(group), name="group")
    return app


def test_with_the_extra_installed_the_commands_run_with_their_options():
    assert missing_server_modules() == []
    require_server()
    calls: list[int] = []
    app = small_app(calls)
    assert CliRunner().invoke(app, ["go", "--count", "3"]).exit_code == 0
    assert CliRunner().invoke(app, ["group", "run", "--count", "4"]).exit_code == 0
    assert calls == [3, 4]


def test_without_the_extra_the_commands_exit_2_with_the_hint_and_keep_their_help(monkeypatch):
    monkeypatch.setattr(server_extra, "SERVER_MODULES", ("json", "no_such_module_for_judgeserve"))
    assert missing_server_modules() == ["no_such_module_for_judgeserve"]
    calls: list[int] = []
    app = small_app(calls)
    for args in (["go"], ["group", "run", "--count", "2"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert SERVER_HINT in result.output and "no_such_module_for_judgeserve" in result.output
    help_text = CliRunner().invoke(app, ["group", "run", "--help"])
    assert help_text.exit_code == 0 and "How many times." in help_text.output and "Run the thing." in help_text.output
    assert calls == []


def test_require_server_raises_exit_2(monkeypatch):
    monkeypatch.setattr(server_extra, "SERVER_MODULES", ("no_such_module_for_judgeserve",))
    with pytest.raises(typer.Exit) as raised:
        require_server()
    assert raised.value.exit_code == 2
