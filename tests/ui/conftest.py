"""Browser-test fixtures shared by tests/ui: a live production-mode gateway (one per test module), headless
Chromium (Debian's /usr/bin/chromium, driven by Playwright) and a fresh tab that fails its test on any
request to another host or any JavaScript error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live_gateway import start_live_service, stop_live_service

CHROMIUM = Path("/usr/bin/chromium")
BROWSER = [  # pytestmark of a module whose tests drive the browser
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium "
                                                      "missing): `apt-get install -y chromium`, or `make test`"),
]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDE = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def live(pg_url, tmp_path_factory):
    service = start_live_service(pg_url, tmp_path_factory.mktemp("live-ui"))
    yield service
    stop_live_service(service)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport=WIDE)
        yield context
        context.close()


@pytest.fixture
def page(browser_context, live):
    """A new tab: its sessionStorage starts empty, so it asks for the key.

    A test that expects console errors lists a part of each as ``tab.expected_errors``.
    """
    tab = browser_context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    outside: list[str] = []
    tab.on("request", lambda request: None if request.url.startswith(live.url) else outside.append(request.url))
    yield tab
    tab.close()
    assert not outside, f"the page fetched from other hosts: {outside}"
    # a test may expect some console errors, e.g. the browser's log of an error response the page shows
    expected = getattr(tab, "expected_errors", ())
    errors = [e for e in errors if not any(text in e for text in expected)]
    assert not errors, f"JavaScript errors: {errors}"
