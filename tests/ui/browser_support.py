"""Helpers of the browser tests: the API key form, screenshots, axe-core, the 375 px check, REST calls."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support import wait_for
from tests.ui.conftest import WIDE

NARROW = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def api(live):
    # no kept-alive connections: uvicorn closes idle ones after 5 s, and a request racing that close fails
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {live.api_key}"}, timeout=30,
                      limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


def open_with_key(page, live, path: str):
    """Open a page and enter the API key in its form (kept in the tab's sessionStorage)."""
    page.goto(live.url + path)
    key = page.get_by_label("API key", exact=True)
    key.fill(live.api_key)
    key.press("Enter")
    page.get_by_role("button", name="Forget key").wait_for()
    assert page.evaluate("sessionStorage.getItem('judgeserve.apiKey')") == live.api_key


def wait_in_page(page, predicate, timeout: float = 30) -> None:
    """Like wait_for, but lets Playwright deliver the page's events (they arrive during Playwright calls)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        page.wait_for_timeout(200)


def shoot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def check_accessibility(page, what: str) -> None:
    """axe-core's WCAG 2 A/AA rules (labels, contrast, landmarks, names, ARIA) find no violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                                              "wcag21aa", "best-practice"]}})
    assert results.violations_count == 0, f"{what}: {results.generate_report()}"


def check_narrow(page, tmp_path: Path, name: str) -> None:
    """On a phone-sized screen the page itself does not scroll sideways (wide tables scroll in their box)."""
    page.set_viewport_size(NARROW)
    page.wait_for_timeout(300)  # charts redraw for the new width
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than a {NARROW['width']}px screen"
    shoot(page, tmp_path, f"{name}-narrow")
    page.set_viewport_size(WIDE)


def submit(api, body: dict) -> str:
    created = api.post("/v1/evaluations", json=body)
    assert created.status_code == 202, created.text
    return created.json()["id"]


def wait_completed(api, evaluation_id: str, timeout: float = 120) -> dict:
    def done():
        evaluation = api.get(f"/v1/evaluations/{evaluation_id}").json()
        return evaluation if evaluation["status"] in ("completed", "failed", "cancelled") else None

    evaluation = wait_for(done, timeout=timeout, interval=0.3)
    assert evaluation["status"] == "completed", evaluation
    return evaluation
