"""Domain errors the API maps onto problem+json responses."""

from __future__ import annotations


class FieldError(dict):
    """One problem with one field: ``{"pointer": "/items/3/id", "detail": "..."}``."""

    def __init__(self, pointer: str, detail: str):
        super().__init__(pointer=pointer, detail=detail)


# a 422 lists at most this many problems, with the count of all found (errors past it are counted, not kept)
MAX_LISTED_ERRORS = 100


class InvalidSubmission(ValueError):
    """The request is well-formed JSON but not a valid evaluation; nothing was stored.

    ``error_count`` counts every problem found (``errors`` may hold only the first ones);
    ``stopped`` says validation stopped early, so there may be more than were counted.
    """

    def __init__(self, errors: list[FieldError], title: str = "Invalid evaluation", error_count: int | None = None,
                 stopped: bool = False):
        super().__init__(title)
        self.title = title
        self.errors = errors
        self.error_count = max(error_count or 0, len(errors))
        self.stopped = stopped


class ErrorList:
    """Problems found so far: the first ``MAX_LISTED_ERRORS`` are kept, every one is counted."""

    def __init__(self, limit: int = MAX_LISTED_ERRORS):
        self.listed: list[FieldError] = []
        self.count = 0
        self.limit = limit

    def add(self, error: FieldError) -> None:
        """Count a problem (and keep it while fewer than the limit are kept)."""
        self.count += 1
        if len(self.listed) < self.limit:
            self.listed.append(error)

    @property
    def full(self) -> bool:
        """As many problems as a response lists: a reader may stop looking."""
        return self.count >= self.limit

    def raise_any(self, title: str, stopped: bool = False) -> None:
        """InvalidSubmission with the problems, if there are any."""
        if self.count:
            raise InvalidSubmission(self.listed, title, self.count, stopped)


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
