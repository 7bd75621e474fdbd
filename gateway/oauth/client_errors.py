"""Errors of client registration and client authentication.

RFC 7591 section 3.2.2 (registration: ``invalid_redirect_uri``,
``invalid_client_metadata``) and RFC 6749 section 5.2 (token endpoint:
``invalid_client``). Each carries the OAuth ``error`` code and a description an
agent's developer can act on; :meth:`ClientError.response` renders the RFC 6749
JSON error with RFC 9457 problem members beside it, so both kinds of caller can
read it.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from services.common.problems import problem_type

# Stable problem type for every OAuth protocol error (the ``error`` member says which).
OAUTH_ERROR_SLUG = "oauth-error"


class ClientError(Exception):
    """An OAuth error about a client: its ``error`` code, description and HTTP status."""

    error = "invalid_request"
    status_code = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def body(self) -> dict[str, object]:
        return {
            "error": self.error,
            "error_description": self.description,
            "type": problem_type(OAUTH_ERROR_SLUG),
            "title": "The OAuth request was refused",
            "status": self.status_code,
            "detail": self.description,
        }

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store"}
        if self.status_code == 401:
            # RFC 6749 section 5.2: a failed HTTP Basic attempt answers with a challenge.
            headers["WWW-Authenticate"] = 'Basic realm="oauth"'
        return JSONResponse(self.body(), status_code=self.status_code, headers=headers)


class InvalidClient(ClientError):
    """Client authentication failed, or the client is unknown (RFC 6749 section 5.2)."""

    error = "invalid_client"
    status_code = 401


class InvalidClientMetadata(ClientError):
    """A metadata field is missing, malformed or not allowed (RFC 7591 section 3.2.2)."""

    error = "invalid_client_metadata"


class InvalidRedirectUri(InvalidClientMetadata):
    """A redirect URI is not acceptable (RFC 7591 section 3.2.2)."""

    error = "invalid_redirect_uri"
