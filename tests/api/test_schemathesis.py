"""Schemathesis against the service's own OpenAPI schema: a bounded run of generated requests.

Production mode (real Postgres and Redis, scripted judges), authenticated as one project, with a
completed evaluation, an open review, a suite and a webhook in the database so that generated
requests also reach existing resources (path parameters are drawn from those ids part of the time).
Every operation gets schema-conforming (positive) and schema-violating (negative) requests.
Checks: no 5xx, status code, content type, headers and body as the schema documents them, and
schema-violating requests rejected with a 4xx. Deterministic (Hypothesis derandomised).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_headers_conformance, response_schema_conformance,
    status_code_conformance,
)

from tests.support import REPO, api_client, settings_env



@schemathesis.check
def rejects_invalid_data(ctx, response, case):
    """negative_data_rejection, except for requests whose only fault may be an undeclared query parameter.

    Unknown query parameters are ignored by design (as most HTTP APIs do, e.g. cache busters).
    """
    declared = {parameter.name for parameter in case.operation.query}
    if set(case.query or {}) - declared:
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
NEGATIVE_CHECKS = CHECKS + [rejects_invalid_data]
EXAMPLES = {GenerationMode.POSITIVE: 36, GenerationMode.NEGATIVE: 22}
MIN_REQUESTS = 1000


def _seed(client, prod_settings) -> dict[str, str]:
    """Resources for path parameters: a completed evaluation with open reviews, a suite, a webhook."""
    items = [{"id": f"i{i}", "prompt": "Which is better?", "response_a": "x" * (i % 4),
              "response_b": "yy", "human_label": "a"} for i in range(8)]
    evaluation = client.post("/v1/evaluations", json={
        "protocol": "pairwise", "judge": "scripted-first", "model": "m", "items": items,
        "options": {"samples": 3, "seed": 1, "review_fraction": 0.5}})
    assert evaluation.status_code == 202, evaluation.text
    running = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "unserved", "model": "m",
                                                   "items": items[:2]})
    assert running.status_code == 202, running.text
    worker = subprocess.run([sys.executable, "-m", "workers", "--judge", "scripted-first", "--burst"],
                            env=settings_env(prod_settings), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-3000:]
    reviews = client.get("/v1/reviews", params={"status": "open"}).json()["data"]
    assert reviews
    suite = client.post("/v1/suites", json={"name": "fuzz-suite", "baseline_model": "ref", "items": [
        {"id": "q1", "prompt": "Say hi.", "baseline_response": "Hi."}]})
    assert suite.status_code == 201, suite.text
    values = {"evaluation_id": [evaluation.json()["id"], running.json()["id"]], "review_id": [reviews[0]["id"]],
              "name": ["fuzz-suite"], "suite": ["fuzz-suite"], "version": [1]}
    webhook = client.post("/v1/webhooks", json={"url": "https://example.com/hook"})
    if webhook.status_code == 201:
        values["webhook_id"] = [webhook.json()["id"]]
    return values


def _strategy(operation, mode: GenerationMode, known: dict[str, list]):
    """Generated cases, with the operation's path parameters taken from existing resources half the time."""
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    if not names or not all(name in known for name in names):
        return generated
    existing = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in names}).flatmap(
        lambda params: operation.as_strategy(generation_mode=mode, path_parameters=params))
    return st.one_of(existing, generated)


@pytest.mark.timeout(600)
def test_generated_requests_get_no_5xx_and_conform_to_the_schema(prod_settings):
    with api_client(prod_settings) as client:
        known = _seed(client, prod_settings)
        auth = {"Authorization": client.headers["Authorization"]}
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        sent: Counter = Counter()
        failures: dict[str, str] = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode, examples in EXAMPLES.items():
                label = f"{mode.value} {operation.method.upper()} {operation.path}"
                checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else CHECKS

                @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
                @given(case=_strategy(operation, mode, known))
                def run(case):
                    response = case.call(headers=auth)
                    sent[label] += 1
                    case.validate_response(response, checks=checks, headers=auth)

                try:
                    run()
                except Unsatisfiable:  # nothing can violate this operation's schema (e.g. no parameters)
                    continue
                except (Exception, BaseExceptionGroup) as exc:  # keep going: report every operation's first failure
                    failures[label] = str(exc)[:1500]
        total = sum(sent.values())
        print(f"schemathesis: {total} requests over {len(sent)} operation × mode pairs")
        assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
        assert total >= MIN_REQUESTS, sent
