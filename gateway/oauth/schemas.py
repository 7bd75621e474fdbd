"""OpenAPI shapes of the JSON endpoints: the token response (RFC 6749 section 5.1) and errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.common.openapi import problem_responses


class TokenResponse(BaseModel):
    """RFC 6749 section 5.1."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


class OAuthErrorDocument(BaseModel):
    """RFC 6749 section 5.2, with the RFC 9457 problem members beside it."""

    error: str
    error_description: str | None = None
    type: str
    title: str
    status: int
    detail: str | None = None


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"model": model, "description": description}


TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    # Answered before the endpoint runs (body too large, NUL characters): problem+json.
    **problem_responses(413, 422),
    200: _json(TokenResponse, "The tokens (never cached)"),
    400: _json(OAuthErrorDocument, "An RFC 6749 section 5.2 error"),
    401: _json(OAuthErrorDocument, "The client could not be authenticated"),
}

_FIELDS = ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id",
           "client_secret", "scope", "resource"]
TOKEN_REQUEST: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["grant_type"],
        "properties": {name: {"type": "string"} for name in _FIELDS}}}}}}

NOT_FOUND = problem_responses(404)
