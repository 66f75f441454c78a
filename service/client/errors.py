"""Typed errors of the judgeserve client; HTTP errors carry the server's problem+json body."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One entry of a problem's ``errors[]``: the offending field (JSON pointer), query parameter or line."""

    detail: str
    pointer: str | None = None
    parameter: str | None = None
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Any) -> "FieldProblem":
        if not isinstance(value, dict):
            return cls(detail=str(value))
        known = {"detail", "pointer", "parameter", "line"}
        line = value.get("line")
        return cls(detail=str(value.get("detail", "")), pointer=value.get("pointer"),
                   parameter=value.get("parameter"), line=line if isinstance(line, int) else None,
                   extra={k: v for k, v in value.items() if k not in known})

    def where(self) -> str:
        """Where the problem is, for messages: ``line 7 /items/6/response``, ``?limit`` or ``body``."""
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.pointer:
            parts.append(self.pointer)
        elif self.parameter:
            parts.append(f"?{self.parameter}")
        return " ".join(parts) or "body"


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem document (or what could be made of a non-problem error body)."""

    status: int
    title: str
    detail: str | None = None
    type: str = "about:blank"
    errors: tuple[FieldProblem, ...] = ()
    body: Any = None

    @classmethod
    def from_response(cls, status: int, body: Any) -> "Problem":
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        if not isinstance(body, dict):
            text = body.strip() if isinstance(body, str) else None
            return cls(status=status, title=phrase, detail=(text or None) and text[:500], body=body)
        errors = body.get("errors") or ()
        return cls(status=status, title=str(body.get("title") or phrase), detail=body.get("detail"),
                   type=str(body.get("type") or "about:blank"),
                   errors=tuple(FieldProblem.from_json(e) for e in errors if errors and isinstance(errors, list)),
                   body=body)


class JudgeserveError(Exception):
    """Base class of every error the client raises."""


class ConnectionFailed(JudgeserveError):
    """The service could not be reached (connection refused, DNS, TLS, timeouts) after every retry."""

    def __init__(self, message: str, attempts: int):
        super().__init__(message)
        self.attempts = attempts


class WaitTimeout(JudgeserveError):
    """``wait`` gave up before the evaluation reached a terminal status; ``evaluation`` is the last one seen."""

    def __init__(self, evaluation: Any, timeout: float):
        super().__init__(f"evaluation {evaluation.id} still {evaluation.status} after {timeout:g} s")
        self.evaluation = evaluation
        self.timeout = timeout


class UnexpectedResponse(JudgeserveError):
    """The service answered with something the client cannot use: a redirect (the client follows none) or a
    success whose body is not the JSON asked for (e.g. a proxy's HTML page, or another endpoint's answer)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class ApiError(JudgeserveError):
    """The service answered with an error status; ``problem`` holds its problem+json body."""

    def __init__(self, problem: Problem, method: str = "", url: str = "", headers: dict[str, str] | None = None):
        self.problem = problem
        self.method, self.url = method, url
        self.headers = headers or {}
        super().__init__(self._message())

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def title(self) -> str:
        return self.problem.title

    @property
    def detail(self) -> str | None:
        return self.problem.detail

    @property
    def errors(self) -> tuple[FieldProblem, ...]:
        return self.problem.errors

    def _message(self) -> str:
        text = f"HTTP {self.problem.status} {self.problem.title}"
        if self.problem.detail:
            text += f": {self.problem.detail}"
        return text


class BadRequest(ApiError):
    """400, 413, 415 and other 4xx answers the caller must fix."""


class Unauthorized(ApiError):
    """401 or 403: missing, unknown or revoked API key."""


class NotFound(ApiError):
    """404: no such resource (or not visible to this key's project)."""


class Conflict(ApiError):
    """409: the resource's state does not allow the action (or the same idempotency key is in flight)."""


class ValidationFailed(ApiError):
    """422: the request was understood but is invalid; ``errors`` names each field (and line)."""


class ServerError(ApiError):
    """5xx: the service failed, or stayed unavailable (503) through every retry."""


def error_for(problem: Problem, method: str = "", url: str = "", headers: dict[str, str] | None = None) -> ApiError:
    """The typed exception for an error response."""
    status = problem.status
    cls = {401: Unauthorized, 403: Unauthorized, 404: NotFound, 409: Conflict, 422: ValidationFailed}.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else BadRequest
    return cls(problem, method, url, headers)
