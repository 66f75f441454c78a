"""/docs and /redoc without a browser: every script, style and icon they name is served by the gateway itself."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings

MEDIA = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}


class AssetLinks(HTMLParser):
    """Collects the src of <script> and the href of <link> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def asset_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    # no lifespan (not started as a context manager): the docs touch neither the database nor the queue
    return TestClient(create_app(Settings(data_dir=tmp_path)))


@pytest.mark.parametrize("path, script", [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")])
def test_docs_pages_name_only_local_assets_and_those_are_served(client, path, script):
    response = client.get(path)  # no API key
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert "fonts.googleapis" not in html and "tiangolo" not in html
    urls = asset_urls(html)
    assert f"/docs-static/{script}" in urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{path} names an asset off this host: {url}"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(MEDIA[Path(url).suffix]), (url, asset.headers["content-type"])
        assert len(asset.content) > (100_000 if url.endswith((".js", ".css")) else 0), url


def test_swagger_ui_has_no_online_validator_and_a_local_oauth2_redirect(client):
    html = client.get("/docs").text
    assert '"validatorUrl": null' in html  # Swagger UI's default badge would fetch validator.swagger.io
    assert "'/docs/oauth2-redirect'" in html
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "oauth2" in redirect.text.lower()


def test_served_scripts_name_no_cdn(client):
    for name in ("swagger-ui-bundle.js", "redoc.standalone.js"):
        script = client.get(f"/docs-static/{name}").text
        assert "https://cdn." not in script and "fonts.googleapis" not in script, name
    assert "API docs by Redocly" in client.get("/docs-static/redoc.standalone.js").text  # the rest is untouched


def test_docs_routes_stay_out_of_the_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/evaluations" in paths
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
    assert client.get("/docs-static/no-such-file.js").status_code == 404
