"""/docs (Swagger UI) and /redoc served from an installed package, so they work on an air-gapped install.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN (and a favicon from fastapi.tiangolo.com);
here their scripts and styles come from the `fastapi-offline` package's static files, mounted at
/docs-static, and the pages name no other host: no Google fonts, no online validator badge, and ReDoc's
script is served with its one off-host URL (the Redocly logo in its sidebar, from cdn.redoc.ly) blanked,
so the "API docs by Redocly" link shows as text. Like the pages they replace, they need no API key and
are not part of the OpenAPI schema.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
STATIC_URL = "/docs-static"
ASSETS = Path(fastapi_offline.__file__).parent / "static"  # swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js
FAVICON = "/ui/static/favicon.svg"  # the web pages' own icon
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}  # Swagger UI's default badge fetches validator.swagger.io
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"  # an <img> whose onError hides it: "" never leaves the host


@cache
def redoc_script() -> bytes:
    """ReDoc's standalone bundle with the Redocly logo's CDN URL blanked."""
    return (ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO.encode(), b"")


def install_docs(app: FastAPI) -> None:
    """Serve /docs, its OAuth2 redirect page and /redoc with locally served assets (app built with docs_url=None)."""

    @app.get(f"{STATIC_URL}/redoc.standalone.js", include_in_schema=False)  # before the mount, which it overrides
    def redoc_js() -> Response:
        return Response(redoc_script(), media_type="text/javascript", headers={"cache-control": "max-age=3600"})

    app.mount(STATIC_URL, StaticFiles(directory=ASSETS), name="docs-static")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css", swagger_favicon_url=f"{root}{FAVICON}",
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS})

    @app.get(oauth2_redirect_url, include_in_schema=False)
    def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js", redoc_favicon_url=f"{root}{FAVICON}",
            with_google_fonts=False)
