"""The /ui/ routes without a browser: no key needed, outside the OpenAPI schema, escaped, static files packaged."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from tests.support import REPO

STATIC = REPO / "service" / "ui" / "static"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # no lifespan (not started as a context manager): the pages touch neither the database nor the queue
    return TestClient(create_app(Settings(data_dir=tmp_path)))


@pytest.mark.parametrize("path", ["/ui/", "/ui/leaderboards/chat?protocol=pairwise&judge=j",
                                  "/ui/evaluations/0b6f0d9e-1d6b-4bbf-a5a8-1e1b2d4a3c2f", "/ui/reviews",
                                  "/ui/reviews?evaluation_id=abc&status=done", "/ui/compare",
                                  "/ui/compare?baseline=abc-1&candidate=def-2&margin=0.02&alpha=0.1",
                                  "/ui/?status=queued&model=m&tag=branch%3Dmain&tag=release"])
def test_pages_are_html_shells_served_without_a_key(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    html = response.text
    assert '<html lang="en">' in html and '<main id="main"' in html and 'href="#main"' in html
    assert '<label for="api-key">API key</label>' in html
    # every asset is local: no other origin is named in the page
    assert "http://" not in html and "https://" not in html and "//cdn" not in html


def test_values_from_the_url_are_escaped(client):
    html = client.get("/ui/leaderboards/chat", params={"judge": '"><script>alert(1)</script>',
                                                      "protocol": "<b>x</b>"}).text
    assert "<script>alert(1)" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert client.get("/ui/evaluations/%3Cscript%3E").status_code == 422  # ids are plain identifiers
    assert client.get("/ui/compare", params={"baseline": "<script>"}).status_code == 422
    home = client.get("/ui/", params={"model": '"><script>x()</script>', "tag": "<b>k</b>=v"}).text
    assert "<script>x()" not in home and "<b>k</b>" not in home and "&lt;b&gt;k&lt;/b&gt;=v" in home


def test_the_filters_and_ids_come_back_in_the_forms(client):
    home = client.get("/ui/", params={"status": "failed", "model": "m1", "tag": ["branch=main", "release"]}).text
    assert '<option value="failed" selected>' in home and 'value="m1"' in home and 'value="branch=main, release"' in home
    compare = client.get("/ui/compare", params={"baseline": "abc-1", "candidate": "def-2", "margin": 0.02}).text
    assert 'value="abc-1"' in compare and 'value="def-2"' in compare and 'value="0.02"' in compare
    assert 'data-baseline="abc-1"' in compare and 'data-candidate="def-2"' in compare


def test_forms_redirect_without_javascript(client):
    response = client.get("/ui/leaderboard", params={"suite": "chat", "protocol": "rating", "judge": "j"},
                          follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/leaderboards/chat?protocol=rating&judge=j"
    response = client.get("/ui/evaluation", params={"id": "abc-123"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/evaluations/abc-123"
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/"


def test_static_files_and_nothing_else(client):
    for name, media in (("ui.js", "text/javascript"), ("app.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        response = client.get(f"/ui/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media)
        assert response.content == (STATIC / name).read_bytes()
    for name in ("../pages.py", "..%2Fpages.py", "pages.py", "nothing.js", ".hidden.js", "%2e%2e%2f__init__.py"):
        assert client.get(f"/ui/static/{name}").status_code == 404, name


def test_pages_are_not_in_the_openapi_schema(client):
    assert not [path for path in client.get("/openapi.json").json()["paths"] if path.startswith("/ui")]


def test_every_static_file_is_in_the_wheel_package_data():
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["service.ui"]
    files = [p.relative_to(STATIC.parent).as_posix() for p in STATIC.iterdir() if p.is_file()]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), (files, globs)
    assert (STATIC.parent / "__init__.py").exists()  # a package, so setuptools ships it


def test_scripts_insert_api_data_as_text_only():
    """No innerHTML / insertAdjacentHTML / document.write: data from the API never becomes markup."""
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, (script.name, sink)
