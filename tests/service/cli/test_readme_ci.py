"""The README's "CI usage" section: its GitHub Actions job parses, and every `judgeserve` command it and
the command table use exists with those options (so the documentation cannot drift from the CLI)."""

from __future__ import annotations

import re
import shlex

import typer
import yaml

from service.cli.main import app
from tests.support import REPO

SHELL_ENDS = {"|", ">", ">>", ";", "}", "&&", "||"}


def ci_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## CI usage\n")
    return text[start:text.index("\n## ", start + 1)]


def command_for(words: list[str]):
    """The (click) command named by the leading words (e.g. ``reviews label``) and the remaining words."""
    command = typer.main.get_command(app)
    rest = list(words)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def options_of(command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def check_usage(line: str) -> None:
    words = shlex.split(line)
    assert words[0] == "judgeserve", line
    words = words[1:words.index(next(w for w in words if w in SHELL_ENDS))] if SHELL_ENDS & set(words) else words[1:]
    command, rest = command_for(words)
    assert not hasattr(command, "commands") or command.invoke_without_command, f"no such command: {line}"
    flags = {word.split("=")[0] for word in rest if word.startswith("--")}
    assert flags <= options_of(command), f"unknown options {flags - options_of(command)} in: {line}"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", ci_section(), re.S)


def example(marker: str) -> dict:
    """The section's YAML block containing ``marker``, parsed."""
    return yaml.safe_load(next(block for block in yaml_blocks() if marker in block))


def commands_in(scripts: list[str]) -> int:
    """Check every `judgeserve` command line in the scripts; how many there were."""
    used = 0
    for run in scripts:
        script = run.replace("\\\n", " ")
        for match in re.finditer(r"(?:^|[;{(]\s*|\|\s*|then\s+|else\s+)(judgeserve\s[^\n]*)", script, re.M):
            check_usage(match.group(1).replace("$(", " "))
            used += 1
    return used


def test_the_github_actions_workflow_parses_and_uses_existing_commands_and_options():
    steps = example("jobs:")["jobs"]["judge"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert commands_in(runs) == 3  # suites create, run (pull request), run (main)


def test_the_gitlab_job_parses_and_uses_existing_commands_and_options():
    job = example("script:")["judge"]
    assert job["artifacts"]["reports"]["junit"] == "judgeserve-junit.xml"
    assert commands_in(job["script"]) == 3


def test_the_project_file_example_is_valid(tmp_path):
    from service.cli.project_file import load
    path = tmp_path / "judgeserve.yaml"
    path.write_text(next(block for block in yaml_blocks() if "fail_under:" in block), encoding="utf-8")
    settings = load(path, environ={})
    assert settings.gate.against.latest.tags == {"branch": "main"} and settings.reports.junit == "judgeserve-junit.xml"


def test_the_command_table_names_existing_commands_and_options():
    rows = re.findall(r"^\| `(judgeserve [^`]+)`", ci_section(), re.M)
    assert {" ".join(row.split()[:2]) for row in rows} >= {"judgeserve submit", "judgeserve status",
                                                          "judgeserve verdicts", "judgeserve leaderboard",
                                                          "judgeserve reviews"}
    for row in rows:
        # drop the alternatives and placeholders: keep the command words and the --flags
        words = [w for w in re.split(r"[\s\[\]()|]+", row.replace("\\|", " ")) if w]
        flags = [w for w in words if w.startswith("--")]
        command, _ = command_for(words[1:])
        assert set(flags) <= options_of(command), f"unknown options {set(flags) - options_of(command)} in: {row}"
