"""The regression gate of ``judgeserve submit``/``run``: its baseline (an id, or found by query) and its checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from service.cli.remote import ExitCode, fail
from service.client import DECISION_RULES, Comparison, DecisionRule, Evaluation, JudgeserveClient, NotFound
from service.core.tags import ANY_VALUE, parse_filter

LATEST_PREFIX = "latest:"
GATE_AGAINST_HELP = ("Baseline of the regression gate (POST /v1/comparisons): an evaluation id, or "
                     "latest:model=NAME,tag=branch=main (the newest completed evaluation on the same suite, judge and "
                     "protocol with that model and tags; tag=KEY matches any value). Exit 1 when the gate fails.")


@dataclass(frozen=True)
class Gate:
    """A gate asked for: a baseline id or a ``latest`` query, and the decision's parameters."""

    baseline_id: str | None
    latest: dict[str, Any] | None
    margin: float
    alpha: float
    rule: str | None

    def query_text(self) -> str:
        """The ``latest`` query as text: ``model=m, tag branch=main``."""
        query = self.latest or {}
        parts = [f"model={query['model']}"] if query.get("model") else []
        parts += [f"tag {k}={v}" for k, v in (query.get("tags") or {}).items()]
        if query.get("leaderboard") is not None:
            parts.append(f"leaderboard={str(query['leaderboard']).lower()}")
        return ", ".join(parts) or "any model and tags"

    def baseline_text(self) -> str:
        """The baseline as the user gave it, for messages."""
        return f"evaluation {self.baseline_id}" if self.baseline_id else f"the latest with {self.query_text()}"


def parse_latest(text: str) -> dict[str, Any]:
    """``latest:model=NAME,tag=branch=main,tag=release`` as a query ``{"model", "tags"}``; ValueError naming the part."""
    query: dict[str, Any] = {"tags": {}}
    body = text[len(LATEST_PREFIX):]
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, sep, value = part.partition("=")
        if key == "model" and sep and value:
            query["model"] = value
        elif key == "tag" and sep:
            tag = parse_filter(value)
            query["tags"][tag.key] = ANY_VALUE if tag.value is None else tag.value
        elif key == "leaderboard" and value in ("true", "false"):
            query["leaderboard"] = value == "true"
        else:
            raise ValueError(f"{part!r}: expected model=NAME, tag=KEY=VALUE, tag=KEY or leaderboard=true|false")
    return query


def gate_spec(against: str | dict[str, Any] | None, margin: float, alpha: float, rule: str | None) -> Gate | None:
    """The gate asked for, checked before anything is submitted (exit 2 on a bad baseline or parameter)."""
    if against is None:
        return None
    if not 0 < alpha < 1:
        raise fail(f"--alpha must be between 0 and 1 (exclusive), not {alpha:g}", ExitCode.USAGE)
    if rule is not None and rule not in DECISION_RULES:
        raise fail(f"--gate-rule must be one of {', '.join(DECISION_RULES)}, not {rule!r}", ExitCode.USAGE)
    if isinstance(against, dict):
        return Gate(None, against, margin, alpha, rule)
    if against.startswith(LATEST_PREFIX):
        try:
            return Gate(None, parse_latest(against), margin, alpha, rule)
        except ValueError as exc:
            raise fail(f"--gate-against {against!r}: {exc}", ExitCode.USAGE) from None
    try:
        return Gate(str(uuid.UUID(against.strip())), None, margin, alpha, rule)
    except ValueError:
        raise fail(f"--gate-against {against!r} is neither an evaluation id (a UUID) nor latest:model=…,tag=…",
                   ExitCode.USAGE) from None


def check_baseline(client: JudgeserveClient, gate: Gate, protocol: str, judge: str, suite: str | None,
                   suite_version: int | None) -> None:
    """Refuse a gate that cannot work before spending judge time on the submission (exit 2)."""
    if gate.latest is not None:
        _check_query(client, gate, protocol, judge, suite, suite_version)
        return
    try:
        baseline = client.get_evaluation(gate.baseline_id or "")
    except NotFound:
        raise fail(f"--gate-against: no evaluation {gate.baseline_id!r}", ExitCode.USAGE) from None
    if baseline.status != "completed":
        raise fail(f"--gate-against: evaluation {gate.baseline_id} is {baseline.status}, not completed",
                   ExitCode.USAGE)
    for name, mine, theirs in (("protocol", protocol, baseline.protocol), ("judge", judge, baseline.judge),
                               ("suite", suite, baseline.suite)):
        if mine != theirs:
            raise fail(f"--gate-against: the baseline's {name} is {theirs!r}, this submission's {mine!r}; "
                       "the gate compares runs of the same suite, judge and protocol", ExitCode.USAGE)
    if suite is not None and baseline.suite_version is not None:
        version = suite_version or _latest_version(client, suite)
        if version != baseline.suite_version:
            raise fail(f"--gate-against: the baseline ran on suite {suite!r} version {baseline.suite_version}, this "
                       f"submission would run on version {version}; give --suite-version {baseline.suite_version} "
                       "to compare like with like", ExitCode.USAGE)


def _check_query(client: JudgeserveClient, gate: Gate, protocol: str, judge: str, suite: str | None,
                 suite_version: int | None) -> None:
    """Exit 2, quoting the query, when no completed evaluation could be the baseline (nothing is submitted)."""
    query = gate.latest or {}
    version = suite_version or (_latest_version(client, suite) if suite else None)
    for row in client.evaluations(status="completed", suite=suite, protocol=protocol, judge=judge,
                                  model=query.get("model"), tags=query.get("tags") or None):
        if row.suite == suite and row.suite_version == version and \
                query.get("leaderboard") in (None, row.leaderboard):
            return
    where = f"suite {suite!r} version {version}" if suite else "no suite"
    raise fail(f"--gate-against: no completed evaluation matches {gate.query_text()} on {where}, judge {judge!r}, "
               f"protocol {protocol!r}; nothing was submitted", ExitCode.USAGE)


def _latest_version(client: JudgeserveClient, suite: str) -> int | None:
    return next((s.version for s in client.suites() if s.name == suite), None)


def run_gate(client: JudgeserveClient, gate: Gate, candidate: Evaluation) -> Comparison:
    """POST /v1/comparisons for the candidate against the gate's baseline."""
    rule = cast(DecisionRule | None, gate.rule)  # checked against DECISION_RULES by gate_spec
    return client.compare(gate.baseline_id, candidate.id, margin=gate.margin, alpha=gate.alpha,
                          decision_rule=rule, latest=gate.latest)
