"""OAuth endpoint errors: RFC 6749 section 5.2 JSON, with RFC 9457 problem members too.

An OAuth client reads ``error`` and ``error_description`` (section 5.2); everything
else the gateway answers is problem+json with ``type``, ``title``, ``status`` and
``detail``. One body carries both, so either kind of caller understands it. It is
served as ``application/json`` because that is what RFC 6749 requires of the token
endpoint, and it is never cached (section 5.1).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.problems import problem_type

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# RFC 6749 section 5.2 and its extensions: error code -> (status, title).
_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "The request is malformed"),
    "invalid_client": (401, "The client could not be authenticated"),
    "invalid_grant": (400, "The grant is invalid, expired, used or revoked"),
    "unauthorized_client": (400, "The client may not use this grant type"),
    "unsupported_grant_type": (400, "The grant type is not supported"),
    "invalid_scope": (400, "The requested scope is invalid or too wide"),
    "invalid_target": (400, "The requested resource is not served here"),  # RFC 8707
    # RFC 9396 section 5
    "invalid_authorization_details": (400, "The authorization details are invalid"),
    "access_denied": (403, "The person declined"),
    "unsupported_response_type": (400, "The response type is not supported"),
    "invalid_redirect_uri": (400, "The redirect URI is not registered"),
    "invalid_client_metadata": (400, "The client metadata is invalid"),  # RFC 7591
    "authorization_pending": (400, "The person has not decided yet"),  # RFC 8628
    "slow_down": (400, "Poll less often"),
    "expired_token": (400, "The device code has expired"),
    "server_error": (500, "Internal error"),
}


class OAuthError(Exception):
    """An OAuth protocol error, answered as RFC 6749 section 5.2 JSON."""

    def __init__(self, error: str, description: str | None = None, *,
                 status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(description or error)
        known_status, title = _ERRORS.get(error, (400, error.replace("_", " ").capitalize()))
        self.error = error
        self.description = description
        self.status = status or known_status
        self.title = title
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"error": self.error}
        if self.description:
            doc["error_description"] = self.description
        doc.update({"type": problem_type("oauth-error"), "title": self.title,
                    "status": self.status})
        if self.description:
            doc["detail"] = self.description
        return doc

    def response(self) -> JSONResponse:
        headers = {**NO_STORE, **self.headers}
        if self.status == 401 and "WWW-Authenticate" not in headers:
            # Section 5.2: a failed client authentication says which scheme to use.
            headers["WWW-Authenticate"] = 'Basic realm="oauth"'
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def install_oauth_errors(app: FastAPI) -> None:
    """Answer every :class:`OAuthError` the app raises as section 5.2 JSON."""

    async def on_oauth_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OAuthError)
        return exc.response()

    app.add_exception_handler(OAuthError, on_oauth_error)
