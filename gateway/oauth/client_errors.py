"""Errors of client registration and client authentication.

RFC 7591 section 3.2.2 (registration: ``invalid_redirect_uri``,
``invalid_client_metadata``) and RFC 6749 section 5.2 (token endpoint:
``invalid_client``). Each carries the OAuth ``error`` code and a description an
agent's developer can act on; :meth:`ClientError.response` renders the RFC 6749
JSON error with RFC 9457 problem members beside it, so both kinds of caller can
read it. They are subclasses of the authorization server's
:class:`~gateway.oauth.errors.OAuthError`, so every endpoint answers them alike.
"""

from __future__ import annotations

from gateway.oauth.errors import OAuthError


class ClientError(OAuthError):
    """An OAuth error about a client: its ``error`` code, description and HTTP status.

    Subclasses name their code, status and title as class attributes; rendering
    (RFC 6749 section 5.2 JSON with problem members) is the authorization server's.
    """

    error = "invalid_request"
    status = 400
    title = "The OAuth request was refused"

    def __init__(self, description: str) -> None:
        cls = type(self)
        super().__init__(cls.error, description, status=cls.status)
        self.title = cls.title


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
