"""/docs and /redoc work offline: in headless Chromium with every request to another host aborted, against a
live gateway, Swagger UI lists every operation and ReDoc names them, and nothing off this host was asked for.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.ui.conftest import BROWSER

pytestmark = BROWSER  # `live` (the gateway) and `page` (a tab that fails on other hosts) from tests/ui/conftest.py
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def offline_page(page):
    """The tab with every request whose host is not this machine aborted; yields (tab, the aborted URLs)."""
    blocked: list[str] = []

    def only_local(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    yield page, blocked
    assert not blocked, f"the docs asked for other hosts: {blocked}"


@pytest.fixture(scope="module")
def schema(live) -> dict:
    return httpx.get(f"{live.url}/openapi.json", timeout=10).json()


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, operation) for path, item in schema["paths"].items()
            for method, operation in item.items() if method in METHODS]


def test_swagger_ui_lists_the_operations_offline(offline_page, live, schema, tmp_path):
    page, blocked = offline_page
    page.goto(f"{live.url}/docs")
    submit = page.locator('.opblock.opblock-post .opblock-summary-path[data-path="/v1/evaluations"]')
    submit.wait_for(state="visible")
    assert page.locator(".opblock").count() == len(operations(schema))
    assert page.locator(".swagger-ui .info .title").inner_text().startswith(schema["info"]["title"])
    page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'docs.png'}")
    assert page.evaluate("typeof SwaggerUIBundle") == "function"


def test_redoc_names_the_operations_offline(offline_page, live, schema, tmp_path):
    page, blocked = offline_page
    page.goto(f"{live.url}/redoc")
    summaries = {operation["summary"] for _, _, operation in operations(schema)}
    submit = schema["paths"]["/v1/evaluations"]["post"]["summary"]
    page.locator("h2", has_text=submit).first.wait_for(state="visible")
    headings = set(page.locator("h2").all_inner_texts())
    assert summaries <= headings, f"ReDoc does not show: {sorted(summaries - headings)}"
    page.screenshot(path=str(tmp_path / "redoc.png"))
    print(f"screenshot: {tmp_path / 'redoc.png'}")
