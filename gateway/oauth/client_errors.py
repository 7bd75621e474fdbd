"""Errors of client registration and client authentication.

RFC 7591 section 3.2.2 (registration: ``invalid_redirect_uri``,
``invalid_client_metadata``) and RFC 6749 section 5.2 (token endpoint:
``invalid_client``). Each carries the OAuth ``error`` code and a description an
agent's developer can act on; :meth:`ClientError.response` renders the RFC 6749
JSON error with RFC 9457 problem members beside it, so both kinds of caller can
read it. The shape (``error``, ``description``, ``status``, ``title``,
``headers``, ``body()``, ``response()``) is that of the authorization server's
own OAuth error, so these classes can become its subclasses without change.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from services.common.problems import problem_type

# Stable problem type for every OAuth protocol error (the ``error`` member says which).
OAUTH_ERROR_SLUG = "oauth-error"


class ClientError(Exception):
    """An OAuth error about a client: its ``error`` code, description and HTTP status."""

    error = "invalid_request"
    status = 400
    title = "The OAuth request was refused"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, object]:
        return {
            "error": self.error,
            "error_description": self.description,
            "type": problem_type(OAUTH_ERROR_SLUG),
            "title": self.title,
            "status": self.status,
            "detail": self.description,
        }

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **self.headers}
        if self.status == 401:
            # RFC 6749 section 5.2: a failed HTTP Basic attempt answers with a challenge.
            headers["WWW-Authenticate"] = 'Basic realm="oauth"'
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


class InvalidClient(ClientError):
    """Client authentication failed, or the client is unknown (RFC 6749 section 5.2)."""

    error = "invalid_client"
    status = 401
    title = "The client could not be authenticated"


class InvalidClientMetadata(ClientError):
    """A metadata field is missing, malformed or not allowed (RFC 7591 section 3.2.2)."""

    error = "invalid_client_metadata"
    title = "The client metadata is invalid"


class InvalidRedirectUri(InvalidClientMetadata):
    """A redirect URI is not acceptable (RFC 7591 section 3.2.2)."""

    error = "invalid_redirect_uri"
    title = "The redirect URI is not acceptable"
