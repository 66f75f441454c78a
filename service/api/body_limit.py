"""ASGI middleware: refuse request bodies over the configured size with 413."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


# streamed uploads (one item per line) are read in bounded memory, so they get a larger limit
UPLOAD_PATHS = ("/v1/evaluations",)
# bodies of a small fixed shape (a review label, a webhook, a comparison: a few kB at most) are parsed and
# validated whole: a small limit bounds what a bad one can cost (JSON takes up to ~24 times its bytes in memory,
# and a validation error per wrong value costs about a kB)
SMALL_BODY_PATHS = ("/v1/reviews", "/v1/webhooks", "/v1/comparisons")
SMALL_BODY_BYTES = 64 * 1024
UPLOAD_TYPES = (b"application/x-ndjson", b"application/jsonl", b"application/x-jsonl", b"application/jsonlines",
                b"application/x-jsonlines")


class BodySizeLimit:
    """Checks Content-Length up front and counts streamed bytes as they arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if scope.get("path") in UPLOAD_PATHS and headers.get(b"content-type", b"").split(b";")[0].strip() in UPLOAD_TYPES:
            await self.app(scope, receive, send)  # the upload handler enforces max_upload_bytes while it streams
            return
        max_bytes, detail = self.limit(scope.get("path", ""))
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            await self._refuse(send, detail)
            return
        seen = 0

        async def counting_receive() -> Message:
            # Streamed bodies (no Content-Length): FastAPI turns this exception into our 413 problem.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise HTTPException(413, detail=detail)
            return message

        await self.app(scope, counting_receive, send)

    def limit(self, path: str) -> tuple[int, str]:
        """The body limit of a path, and the message naming it."""
        if self.max_bytes > SMALL_BODY_BYTES and path.startswith(SMALL_BODY_PATHS):
            return SMALL_BODY_BYTES, (f"the request body exceeds limit small_body_bytes={SMALL_BODY_BYTES} "
                                      "(review, webhook and comparison bodies)")
        return self.max_bytes, f"the request body exceeds limit max_body_bytes={self.max_bytes}"

    async def _refuse(self, send: Send, detail: str) -> None:
        body = json.dumps({
            "type": "about:blank", "title": "Request body too large", "status": 413, "detail": detail,
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
