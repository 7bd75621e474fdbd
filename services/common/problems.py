"""Problem Details for HTTP APIs (RFC 9457), shared by the gateway and every service.

Code raises :class:`Problem` (or a subclass); one handler per app turns it into an
``application/problem+json`` response. Framework errors (validation, 404, 405,
oversized bodies, crashes) are converted by the same handlers, so a caller never
sees any other error shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"

logger = logging.getLogger("agentgate.problems")

# Stable problem types: slug -> title. A type never changes meaning once published;
# the gateway serves a page for each at /problems/{slug}.
PROBLEM_TYPES: dict[str, str] = {
    "bad-request": "The request is malformed",
    "validation-error": "The request did not validate",
    "unauthorized": "Authentication is required",
    "invalid-token": "The credential is not valid",
    "forbidden": "You may not do this",
    "insufficient-scope": "The token lacks a required scope",
    "csrf-failed": "The CSRF token is missing or wrong",
    "people-only": "Only the person, signed in, may do this",
    "no-person": "This token acts for no person",
    "oauth-error": "The OAuth request failed",
    "widening-refused": "A grant can only be narrowed",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "The request conflicts with the current state",
    "gone": "No longer available",
    "payload-too-large": "The request body is too large",
    "unsupported-media-type": "Unsupported media type",
    "too-many-requests": "Too many requests",
    "rate-limited": "Over the rate limit",
    "payment-required": "Payment is required",
    "payment-refused": "The gateway will not pay for this by itself",
    "payment-unavailable": "The payment processor could not be reached",
    "quote-expired": "The quote has expired",
    "idempotency-key-missing": "The Idempotency-Key header is missing",
    "idempotency-key-malformed": "The Idempotency-Key header is malformed",
    "idempotency-key-in-use": "A request with this Idempotency-Key is still being processed",
    "idempotency-key-reused": "The Idempotency-Key was used for a different request",
    "service-unavailable": "The service is unavailable",
    "bad-gateway": "The service answered badly",
    "gateway-timeout": "The service did not answer in time",
    "internal-error": "Internal error",
}

_STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    502: "bad-gateway",
    503: "service-unavailable",
}


def problem_type(slug: str) -> str:
    """Return the type URI of a problem slug."""
    return PROBLEM_BASE + slug


class Problem(Exception):
    """An expected failure, rendered as RFC 9457 problem+json.

    ``extra`` members are extension members (RFC 9457 section 3.2): what a caller
    needs to recover, such as the missing scope or the amount to pay.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or slug)
        self.status = status
        self.slug = slug
        self.title = title or PROBLEM_TYPES.get(slug, slug.replace("-", " ").capitalize())
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """Return the problem document."""
        doc: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc

    def response(self, instance: str | None = None) -> JSONResponse:
        """Render the problem as a response."""
        return JSONResponse(
            self.body(instance),
            status_code=self.status,
            headers=self.headers,
            media_type=PROBLEM_JSON,
        )


class NotFound(Problem):
    def __init__(self, detail: str = "No such resource.", **extra: Any) -> None:
        super().__init__(404, "not-found", detail, **extra)


class Forbidden(Problem):
    def __init__(self, detail: str = "You may not do this.", **extra: Any) -> None:
        super().__init__(403, "forbidden", detail, **extra)


class Conflict(Problem):
    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(409, "conflict", detail, **extra)


class BadRequest(Problem):
    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(400, "bad-request", detail, **extra)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        errors.append(
            {
                "location": [str(p) for p in err.get("loc", ())],
                "message": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return errors


def is_database_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked": another writer held the lock past the busy timeout."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response(instance=request.url.path)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = _STATUS_SLUGS.get(exc.status_code, "bad-request")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"Nothing is at {request.url.path}."
        return Problem(exc.status_code, slug, detail, headers=dict(exc.headers or {})).response(
            instance=request.url.path
        )

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        # A body that is not JSON at all is malformed (400), not merely invalid (422).
        if any(e["type"] == "json_invalid" for e in errors):
            problem = Problem(400, "bad-request", "The body is not valid JSON.", errors=errors)
        else:
            problem = Problem(422, "validation-error", "Some fields are missing or wrong.",
                              errors=errors)
        return problem.response(instance=request.url.path)

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        if is_database_busy(exc):
            # SQLite's one writer was busy past the busy timeout: the transaction rolled
            # back whole, nothing was half-written, and the same call can simply be retried.
            logger.warning("database busy on %s %s", request.method, request.url.path)
            return Problem(503, "service-unavailable", "The database is busy; try again in "
                           "a moment.", headers={"Retry-After": "1"}).response(
                instance=request.url.path)
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return Problem(500, "internal-error", "Something went wrong on our side.").response(
            instance=request.url.path
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_crash)
