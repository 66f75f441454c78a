"""Domain errors the API maps onto problem+json responses."""

from __future__ import annotations


class FieldError(dict):
    """One problem with one field: ``{"pointer": "/items/3/id", "detail": "..."}``."""

    def __init__(self, pointer: str, detail: str):
        super().__init__(pointer=pointer, detail=detail)


class InvalidSubmission(ValueError):
    """The request is well-formed JSON but not a valid evaluation; nothing was stored."""

    def __init__(self, errors: list[FieldError], title: str = "Invalid evaluation"):
        super().__init__(title)
        self.title = title
        self.errors = errors


class NotFound(LookupError):
    """No such resource (or not visible to the caller)."""


class Conflict(RuntimeError):
    """The resource is in a state that does not allow the action."""


class ServiceUnavailable(RuntimeError):
    """A dependency is down; the client should retry later."""

    def __init__(self, detail: str, retry_after: int = 5):
        super().__init__(detail)
        self.retry_after = retry_after


class Unauthorized(PermissionError):
    """No valid API key: missing, malformed, unknown or revoked."""
