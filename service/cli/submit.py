"""`judgeserve submit`: send a JSONL file of outputs for evaluation, wait, gate a CI job on the result, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from service.cli import arguments
from service.cli.evaluate import RunSpec, evaluate
from service.cli.gating import GATE_AGAINST_HELP, gate_spec
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL, ExitCode, fail
from service.core.protocols import DEFAULT_PROTOCOL
from service.core.tags import parse_assignment

FORMAT_HELP = ("items (JSONL, one item per line), alpacaeval (AlpacaEval model_outputs.json) or fastchat (FastChat "
               "MT-Bench answers); the last two are matched to --suite's items.")
TAG_HELP = "Tag the evaluation, key=value (repeatable), e.g. --tag branch=main --tag commit=$GITHUB_SHA."
LEADERBOARD_HELP = "--no-leaderboard: judged and compared as usual, but never a leaderboard row (e.g. a PR run)."
REPORT_MD_HELP = ("Write a Markdown report here (also appended to $GITHUB_STEP_SUMMARY when that is set): the "
                  "metric with its interval, the gate's decision, changed items, reliability warnings, links.")
JUNIT_HELP = "Write JUnit XML here: one test case per threshold and gate (GitLab, Jenkins)."
FAIL_UNDER_HELP = ("Exit 1 when the main metric (the summary field that summary.metric names: the protocol's "
                   "headline_metric in `judgeserve protocols`) is below this value.")
GATE_RULE_HELP = ("Decision rule for --gate-against: bound (fail when the upper bound of candidate − baseline is below "
                  "−margin) or bound_or_significant (also when the drop is beyond the margin with p < alpha); "
                  "default: the server's (bound).")


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (3, 0.7, true, null, [..]), else as text."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"--option {pair!r}: expected key=value", ExitCode.USAGE)
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """``--tag key=value`` pairs; exit 2 naming a bad one."""
    tags = {}
    for pair in pairs:
        try:
            key, value = parse_assignment(pair)
        except ValueError as exc:
            raise fail(f"--tag: {exc}", ExitCode.USAGE) from None
        tags[key] = value
    return tags


def submit(
    file: Annotated[Path, typer.Option("--file", "-f", help="JSONL file, one item per line ('-' for stdin). With "
                                       "--suite each line is {\"id\", \"response\"}; otherwise a full protocol item.")],
    model: Annotated[str, typer.Option(help="Name of the model whose outputs these are.")],
    judge: Annotated[str, typer.Option(help="Judge name (see GET /v1/judges).")],
    format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "items",
    protocol: Annotated[str, typer.Option(
        help="Protocol name (`judgeserve protocols` lists them).")] = DEFAULT_PROTOCOL,
    suite: Annotated[Optional[str], typer.Option(help="Evaluate on a stored suite (items reference it by id).")] = None,
    suite_version: Annotated[Optional[int], typer.Option(min=1, help="Suite version (default: the latest).")] = None,
    baseline_model: Annotated[Optional[str], typer.Option(help="Who wrote response B (default: the suite's).")] = None,
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-o", help="Evaluation option key=value (repeatable; values parsed as JSON), e.g. samples=3.")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", "-t", help=TAG_HELP)] = None,
    leaderboard: Annotated[bool, typer.Option("--leaderboard/--no-leaderboard", help=LEADERBOARD_HELP)] = True,
    wait: Annotated[bool, typer.Option(help="Wait for the result (implied by --fail-under, --gate-against and the "
                                            "reports).")] = False,
    timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait before giving up (exit 3).")] = 3600.0,
    cancel_on_timeout: Annotated[bool, typer.Option(help="Cancel the evaluation when the wait times out.")] = False,
    fail_under: Annotated[Optional[float], typer.Option(help=FAIL_UNDER_HELP)] = None,
    gate_against: Annotated[Optional[str], typer.Option(
        help=GATE_AGAINST_HELP, callback=arguments.gate_baseline)] = None,
    margin: Annotated[float, typer.Option(min=0, help="Tolerated drop of the metric for --gate-against.")] = 0.0,
    alpha: Annotated[float, typer.Option(min=0, max=1, help="Significance level for --gate-against (0 < alpha < 1).")] = 0.05,
    gate_rule: Annotated[Optional[str], typer.Option(help=GATE_RULE_HELP)] = None,
    report_md: Annotated[Optional[Path], typer.Option("--report-md", help=REPORT_MD_HELP)] = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help=JUNIT_HELP)] = None,
    url: URL = None,
    api_key: API_KEY = None,
    retries: RETRIES = 3,
    as_json: JSON_OUT = False,
) -> None:
    """Submit a file of model outputs; with --wait, show progress, print the summary and gate on it.

    Exit codes: 0 pass, 1 threshold or gate failed, 2 usage or input error, 3 service error or timeout.
    """
    spec = RunSpec(
        file=file, judge=judge, model=model, protocol=protocol, format=format, suite=suite,
        suite_version=suite_version, baseline_model=baseline_model, options=parse_options(option or []),
        tags=parse_tags(tag or []), leaderboard=None if leaderboard else False, wait=wait, timeout=timeout,
        cancel_on_timeout=cancel_on_timeout, fail_under=fail_under,
        gate=gate_spec(gate_against, margin, alpha, gate_rule), report_md=report_md, junit=junit, url=url,
        api_key=api_key, retries=retries, as_json=as_json)
    raise typer.Exit(evaluate(spec))
