"""API keys and project isolation, over every route of the OpenAPI schema (new routes must be listed here)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support import REPO, api_client, api_key, run_worker, settings_env

PUBLIC = {"/healthz", "/readyz", "/metrics"}
SUITE = "secret-suite"


@pytest.fixture
def world(prod_settings):
    """Project A's suite, completed evaluations (with open reviews) and leaderboard, and a client per project."""
    with api_client(prod_settings, "project-a") as a, api_client(prod_settings, "project-b") as b:
        items = [{"id": f"q{i}", "prompt": f"question {i}", "baseline_response": "base"} for i in range(6)]
        assert a.post("/v1/suites", json={"name": SUITE, "baseline_model": "ref", "items": items}).status_code == 201
        # A's webhook: its host does not resolve here, so each completion logs a failed attempt (a delivery)
        webhook = a.post("/v1/webhooks", json={"url": "http://a-receiver.invalid/hook"})
        assert webhook.status_code == 201, webhook.text
        ids = []
        for model in ("m1", "m2"):
            body = {"protocol": "pairwise", "judge": "scripted-first", "model": model, "suite": SUITE,
                    "options": {"review_fraction": 0.5},
                    "items": [{"id": f"q{i}", "response": f"answer {model} {i}"} for i in range(6)]}
            ids.append(a.post("/v1/evaluations", json=body).json()["id"])
        assert run_worker(prod_settings, "scripted-first").returncode == 0
        reviews = a.get("/v1/reviews").json()["data"]
        assert reviews, "the position-biased judge should leave items to review"
        webhook_id = webhook.json()["id"]
        deliveries = a.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["data"]
        assert deliveries, "the completed evaluations should have left webhook deliveries"
        values = {"evaluation_id": ids[0], "review_id": reviews[0]["id"], "name": SUITE, "suite": SUITE, "version": 1,
                  "webhook_id": webhook_id, "delivery_id": deliveries[0]["id"]}
        bodies = {
            ("post", "/v1/evaluations"): {"protocol": "pairwise", "judge": "scripted", "model": "x", "suite": SUITE,
                                          "items": [{"id": "q0", "response": "r"}]},
            ("post", "/v1/comparisons"): {"baseline_evaluation_id": ids[0], "candidate_evaluation_id": ids[1]},
            ("post", "/v1/analyses/rating-vs-ranking"): {"rating_x_evaluation_id": ids[0],
                                                         "rating_y_evaluation_id": ids[1],
                                                         "pairwise_evaluation_id": ids[0]},
            ("post", "/v1/reviews/{review_id}"): {"label": "a", "reviewer": "someone"},
            ("post", "/v1/suites"): {"name": SUITE, "items": items},
            ("post", "/v1/evaluations/{evaluation_id}/cancel"): None,
            ("post", "/v1/webhooks"): {"url": "http://b-receiver.invalid/hook"},
            ("patch", "/v1/webhooks/{webhook_id}"): {"description": "renamed"},
            ("post", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): None,
        }
        params = {"/v1/leaderboards/{suite}": {"protocol": "pairwise", "judge": "scripted-first"},
                  "/v1/comparisons/items": {"baseline": ids[0], "candidate": ids[1]}}
        yield a, b, values, bodies, params, ids


# routes that name another resource in the body or the query: another project's ids are 404 there too
NAMED_IN_BODY_OR_QUERY = {("post", "/v1/comparisons"), ("post", "/v1/analyses/rating-vs-ranking"),
                          ("get", "/v1/comparisons/items")}


def routes(client):
    """Every operation of the OpenAPI schema; deletions last, so the resources stay for the other routes."""
    found = [(method, path) for path, operations in client.get("/openapi.json").json()["paths"].items()
             for method in operations]
    return sorted(found, key=lambda route: route[0] == "delete")


def call(client, method, path, values, bodies, params, **extra):
    placeholders = re.findall(r"{(\w+)}", path)
    missing = [p for p in placeholders if p not in values]
    assert not missing, f"{method.upper()} {path}: add a value for {missing} to this test"
    if method == "post":
        assert (method, path) in bodies, f"POST {path}: add a request body to this test"
    url = path.format(**values)
    body = bodies.get((method, path))
    return client.request(method.upper(), url, json=body, params=params.get(path), **extra)


def test_every_route_needs_a_valid_key(world, prod_settings):
    a, b, values, bodies, params, _ = world
    for method, path in routes(a):
        if path in PUBLIC:
            continue
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer js_0000000000_" + "x" * 43},
                        {"Authorization": "Basic dXNlcjpwYXNz"}):
            response = call(a, method, path, values, bodies, params, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["content-type"] == "application/problem+json"


def test_another_projects_resources_are_404_and_never_listed(world):
    a, b, values, bodies, params, ids = world
    secrets = [SUITE, *ids, values["review_id"], values["webhook_id"], values["delivery_id"], "a-receiver.invalid"]
    checked = 0
    for method, path in routes(a):
        if path in PUBLIC or (method, path) == ("post", "/v1/suites"):
            continue
        other = call(b, method, path, values, bodies, params)  # first: B must not reach what A is about to delete
        if method == "get" or re.search(r"{\w+}", path):
            own = call(a, method, path, values, bodies, params)
            # the owner reaches it (a 409 "already ended" is reaching it), so the test's URLs and bodies are right
            assert own.status_code < 300 or own.status_code == 409, (method, path, own.text)
        if re.search(r"{\w+}", path) or (method, path) in NAMED_IN_BODY_OR_QUERY:
            assert other.status_code == 404, (method, path, other.status_code, other.text)
        asked = str(other.request.url) + other.request.content.decode()
        leaked = [secret for secret in secrets if secret in other.text and secret not in asked]
        assert not leaked, (method, path, leaked, other.text)  # echoing what the caller sent is no leak
        checked += 1
    assert checked >= 10
    # the same suite name in project B is B's own suite, version 1
    created = b.post("/v1/suites", json=bodies[("post", "/v1/suites")])
    assert created.status_code == 201 and created.json()["version"] == 1
    assert a.get(f"/v1/suites/{SUITE}").json()["version"] == 1


def test_keys_are_listed_by_prefix_and_revocation_locks_out(prod_settings):
    env = settings_env(prod_settings)
    judgeserve = [sys.executable, "-m", "service.cli.main"]
    created = subprocess.run(judgeserve + ["keys", "create", "--project", "ci", "--name", "pipeline"], env=env,
                             cwd=REPO, capture_output=True, text=True, check=True)
    key = created.stdout.strip()
    prefix = key.split("_")[1]
    assert "shown once" in created.stderr and prefix in created.stderr
    listed = subprocess.run(judgeserve + ["keys", "list", "--project", "ci"], env=env, cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    assert prefix in listed and "active" in listed and key not in listed
    with api_client(prod_settings, "ci") as client:
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.get("/v1/suites").status_code == 200
        subprocess.run(judgeserve + ["keys", "revoke", prefix], env=env, cwd=REPO, check=True, capture_output=True)
        response = client.get("/v1/suites")
        assert response.status_code == 401 and "revoked" in response.json()["detail"]
    listed = subprocess.run(judgeserve + ["keys", "list"], env=env, cwd=REPO, capture_output=True, text=True).stdout
    assert "revoked" in listed


def test_only_a_hash_of_each_key_is_stored(prod_settings):
    from sqlalchemy import text

    from service.db.engine import session_scope

    key = api_key(prod_settings, "hashing")
    with session_scope(prod_settings.database_url) as session:
        stored = " ".join(str(v) for row in session.execute(text("SELECT * FROM api_keys")) for v in row)
    secret = key.split("_", 2)[2]  # the secret itself may contain "_"
    assert len(secret) >= 32
    assert key not in stored and secret not in stored
