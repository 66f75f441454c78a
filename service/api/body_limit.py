"""ASGI middleware: refuse request bodies over the configured size with 413."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


# streamed uploads (one item per line) are read in bounded memory, so they get a larger limit
UPLOAD_PATHS = ("/v1/evaluations",)
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
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def counting_receive() -> Message:
            # Streamed bodies (no Content-Length): FastAPI turns this exception into our 413 problem.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, detail=self.detail)
            return message

        await self.app(scope, counting_receive, send)

    @property
    def detail(self) -> str:
        """The message naming the limit."""
        return f"the request body exceeds limit max_body_bytes={self.max_bytes}"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({
            "type": "about:blank", "title": "Request body too large", "status": 413, "detail": self.detail,
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
