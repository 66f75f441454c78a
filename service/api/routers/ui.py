"""/ui/: the web pages (leaderboard, evaluation detail, review queue) and their static files.

The pages need no key: each asks for an API key once, keeps it in the tab's sessionStorage and
sends it with the REST calls its script makes. None of these routes is part of the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.core.protocols import DEFAULT_PROTOCOL
from service.ui import pages

router = APIRouter(prefix="/ui", include_in_schema=False)
Identifier = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[0-9A-Za-z._-]+$")]


def _html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers=pages.HEADERS)


@router.get("")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=308)


@router.get("/")
def home(status: Annotated[str | None, Query(max_length=32)] = None,
         model: Annotated[str | None, Query(max_length=256)] = None,
         tag: Annotated[list[str] | None, Query(max_length=300)] = None) -> HTMLResponse:
    """The home page; its evaluation filters come back in the query (the filter form works without JavaScript)."""
    return _html(pages.home(status, model, ", ".join(tag or []) or None))


@router.get("/compare")
def compare(baseline: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z-]*$")] = None,
            candidate: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z-]*$")] = None,
            margin: Annotated[float | None, Query(ge=0, le=1e6)] = None,
            alpha: Annotated[float | None, Query(gt=0, lt=1)] = None) -> HTMLResponse:
    """Two runs side by side: the gate's paired difference and decision, and the items whose outcome changed."""
    return _html(pages.compare(baseline or None, candidate or None,
                               None if margin is None else repr(margin), None if alpha is None else repr(alpha)))


@router.get("/analyses/rating-vs-ranking")
def rating_vs_ranking(rating_x: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z-]*$")] = None,
                      rating_y: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z-]*$")] = None,
                      comparison: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z-]*$")] = None,
                      ) -> HTMLResponse:
    """Whether two scoring evaluations imply the preference a comparison evaluation gives, item by item."""
    return _html(pages.rating_vs_ranking(rating_x or None, rating_y or None, comparison or None))


@router.get("/leaderboard")
def leaderboard_form(suite: Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[0-9A-Za-z._-]+$")],
                     protocol: Annotated[str, Query(max_length=64)] = DEFAULT_PROTOCOL,
                     judge: Annotated[str | None, Query(max_length=128)] = None) -> RedirectResponse:
    """The home page's leaderboard form (works without JavaScript)."""
    query = urlencode({"protocol": protocol, **({"judge": judge} if judge else {})})
    return RedirectResponse(f"/ui/leaderboards/{quote(suite)}?{query}", status_code=303)


@router.get("/leaderboards/{suite}")
def leaderboard(suite: Identifier, protocol: Annotated[str, Query(max_length=64)] = DEFAULT_PROTOCOL,
                judge: Annotated[str | None, Query(max_length=128)] = None,
                runs: Literal["latest", "all"] = "latest") -> HTMLResponse:
    return _html(pages.leaderboard(suite, protocol, judge or None, runs))


@router.get("/evaluation")
def evaluation_form(id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")]) -> RedirectResponse:
    """The home page's evaluation form (works without JavaScript)."""
    return RedirectResponse(f"/ui/evaluations/{id.strip()}", status_code=303)


@router.get("/evaluations/{evaluation_id}")
def evaluation(evaluation_id: Identifier) -> HTMLResponse:
    return _html(pages.evaluation(evaluation_id))


@router.get("/reviews")
def reviews(evaluation_id: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z-]*$")] = None,
            status: Literal["open", "done"] = "open") -> HTMLResponse:
    return _html(pages.reviews(evaluation_id or None, status))


@router.get("/static/{name}")
def static(name: str) -> Response:
    found = pages.static_file(name)
    if found is None:
        raise HTTPException(404, f"no static file {name!r}")
    content, media_type = found
    return Response(content, media_type=media_type,
                    headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})
