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
    # RFC 9396 section 7: the payment mandate the token may spend under, if any.
    authorization_details: list[dict[str, Any]] | None = None


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
           "client_secret", "scope", "resource", "authorization_details"]
TOKEN_REQUEST: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["grant_type"],
        "properties": {name: {"type": "string"} for name in _FIELDS}}}}}}

NOT_FOUND = problem_responses(404)

# Every client-authenticated form endpoint can refuse the request or the client.
OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    **problem_responses(413, 422),
    400: _json(OAuthErrorDocument, "An RFC 6749 section 5.2 error"),
    401: _json(OAuthErrorDocument, "The client could not be authenticated"),
}


def form_request(*fields: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` for an application/x-www-form-urlencoded body of string fields."""
    schema: dict[str, Any] = {"type": "object",
                              "properties": {name: {"type": "string"} for name in fields}}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": schema}}}}


class DeviceAuthorizationResponse(BaseModel):
    """RFC 8628 section 3.2."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class IntrospectionResponse(BaseModel, extra="allow"):
    """RFC 7662 section 2.2: ``active``, and for an active token what it carries."""

    active: bool


_CLIENT = ("client_id", "client_secret", "client_assertion", "client_assertion_type")
DEVICE_AUTHORIZATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **OAUTH_ERRORS, 200: _json(DeviceAuthorizationResponse, "The codes (never cached)")}
DEVICE_AUTHORIZATION_REQUEST = form_request("scope", "resource", "authorization_details",
                                            *_CLIENT)
REVOCATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **OAUTH_ERRORS, 200: {"description": "Revoked, or nothing to revoke"}}
INTROSPECTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **OAUTH_ERRORS, 200: _json(IntrospectionResponse, "The token's state")}
TOKEN_FORM_REQUEST = form_request("token", "token_type_hint", *_CLIENT, required=("token",))

REGISTRATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(413, 422),
    201: {"description": "The client information response (RFC 7591 section 3.2.1)"},
    400: _json(OAuthErrorDocument, "Invalid client metadata (RFC 7591 section 3.2.2)"),
}
REGISTRATION_REQUEST: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description":
                                    "Client metadata (RFC 7591 section 2)"}}}}}
