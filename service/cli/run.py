"""`judgeserve run`: submit, wait, gate and report in one command, from the project file `judgeserve.yaml`.

Flags override the file; ``--option``/``--tag`` are merged over its ``options``/``tags``. The API key comes
from ``--api-key`` or ``JUDGESERVE_API_KEY``, never from the file (it is checked into the repository).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from service.cli import arguments, project_file
from service.cli.evaluate import RunSpec, evaluate
from service.cli.gating import GATE_AGAINST_HELP, gate_spec
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL, ExitCode, fail
from service.cli.submit import (
    FAIL_UNDER_HELP, FORMAT_HELP, GATE_RULE_HELP, JUNIT_HELP, LEADERBOARD_HELP, REPORT_MD_HELP, TAG_HELP,
    parse_options, parse_tags,
)


def run(
    config: Annotated[Optional[Path], typer.Option(
        "--config", "-c", help=f"The project file (default: {project_file.FILE_NAME} in this directory or a parent).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="The outputs file (overrides `outputs`).")] = None,
    model: Annotated[Optional[str], typer.Option(help="The model's name (overrides `model`).")] = None,
    judge: Annotated[Optional[str], typer.Option(help="Judge name (overrides `judge`).")] = None,
    protocol: Annotated[Optional[str], typer.Option(help="Protocol name (overrides `protocol`).")] = None,
    suite: Annotated[Optional[str], typer.Option(help="Suite name (overrides `suite`).")] = None,
    suite_version: Annotated[Optional[int], typer.Option(min=1, help="Suite version (overrides `suite_version`).")] = None,
    baseline_model: Annotated[Optional[str], typer.Option(help="Who wrote response B (overrides `baseline_model`).")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help=FORMAT_HELP)] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-o", help="key=value, merged over `options`.")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", "-t", help=TAG_HELP + " Merged over `tags`.")] = None,
    leaderboard: Annotated[Optional[bool], typer.Option("--leaderboard/--no-leaderboard", help=LEADERBOARD_HELP,
                                                        show_default=False)] = None,
    fail_under: Annotated[Optional[float], typer.Option(help=FAIL_UNDER_HELP)] = None,
    gate_against: Annotated[Optional[str], typer.Option(
        help=GATE_AGAINST_HELP, callback=arguments.gate_baseline)] = None,
    margin: Annotated[Optional[float], typer.Option(min=0, help="Tolerated drop (overrides `gate.margin`).")] = None,
    alpha: Annotated[Optional[float], typer.Option(min=0, max=1, help="Significance level (overrides `gate.alpha`).")] = None,
    gate_rule: Annotated[Optional[str], typer.Option(help=GATE_RULE_HELP)] = None,
    no_gate: Annotated[bool, typer.Option("--no-gate", help="Skip the file's gate (e.g. on the main branch).")] = False,
    report_md: Annotated[Optional[Path], typer.Option("--report-md", help=REPORT_MD_HELP)] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help=JUNIT_HELP)] = None,
    timeout: Annotated[Optional[float], typer.Option(min=0, help="Seconds to wait (overrides `timeout`).")] = None,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Run the project file's evaluation: submit, wait, check the threshold and the gate, write the reports.

    Exit codes: 0 pass, 1 threshold or gate failed, 2 usage, input or project-file error, 3 service error or timeout.
    """
    path, settings = _project(config)
    gate = settings.gate
    against: Any = gate_against if gate_against is not None else _against(gate.against) if gate else None
    spec = RunSpec(
        file=file or _required_path(path, settings.outputs, "outputs", "--file"),
        judge=judge or _required(settings.judge, "judge", "--judge"),
        model=model or _required(settings.model, "model", "--model"),
        protocol=protocol or settings.protocol, format=format or settings.format, suite=suite or settings.suite,
        suite_version=suite_version or settings.suite_version, baseline_model=baseline_model or settings.baseline_model,
        options={**settings.options, **parse_options(option or [])}, tags={**settings.tags, **parse_tags(tag or [])},
        leaderboard=settings.leaderboard if leaderboard is None else leaderboard, wait=True,
        timeout=settings.timeout if timeout is None else timeout,
        fail_under=settings.fail_under if fail_under is None else fail_under,
        gate=None if no_gate else gate_spec(
            against, margin if margin is not None else gate.margin if gate else 0.0,
            alpha if alpha is not None else gate.alpha if gate else 0.05, gate_rule or (gate.rule if gate else None)),
        report_md=report_md or _optional_path(path, settings.reports.markdown),
        junit=junit or _optional_path(path, settings.reports.junit),
        url=url or settings.url, api_key=api_key, retries=retries, as_json=as_json)
    raise typer.Exit(evaluate(spec))


def _project(config: Path | None) -> tuple[Path | None, project_file.ProjectFile]:
    """The project file named or found, read and checked; exit 2 naming the key and line of a problem."""
    path = config or project_file.find()
    if config is not None and not config.is_file():
        raise fail(f"--config {config}: no such file", ExitCode.USAGE)
    if path is None:
        return None, project_file.ProjectFile()
    try:
        return path, project_file.load(path)
    except project_file.ProjectFileError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None


def _against(against: Any) -> Any:
    """The file's gate baseline as gate_spec takes it: an id or ``latest:`` text, or the query as a dict."""
    if isinstance(against, str):
        return against
    return against.latest.model_dump(exclude_none=True)


def _required(value: str | None, key: str, flag: str) -> str:
    if not value:
        raise fail(f"{key} is not set: give it in {project_file.FILE_NAME} or with {flag}", ExitCode.USAGE)
    return value


def _required_path(path: Path | None, value: str | None, key: str, flag: str) -> Path:
    return project_file.resolve_path(path, _required(value, key, flag))


def _optional_path(path: Path | None, value: str | None) -> Path | None:
    return project_file.resolve_path(path, value) if value else None
