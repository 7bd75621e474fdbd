"""The authorization server's JSON endpoints and discovery documents.

RFC 8414 (``/.well-known/oauth-authorization-server``), RFC 9728
(``/.well-known/oauth-protected-resource/<resource>``), the access-token JWKS
(RFC 7517), and the token endpoint (RFC 6749 section 3.2), which hands the request
to the Authlib adapter (server.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask

from gateway.db import SessionDep
from gateway.oauth.errors import OAuthError
from gateway.oauth.metadata import authorization_server_metadata, protected_resource_metadata
from gateway.oauth.schemas import NOT_FOUND, TOKEN_REQUEST, TOKEN_RESPONSES
from gateway.policy.scopes import scope_descriptions
from services.common.problems import NotFound

router = APIRouter()

_PUBLIC_CACHE = {"Cache-Control": "public, max-age=300"}


def _scopes(request: Request) -> list[str]:
    return sorted(scope_descriptions(request.app.state.services))


@router.get("/oauth/jwks.json", tags=["oauth"], operation_id="get_access_token_jwks")
async def access_jwks(request: Request) -> JSONResponse:
    """Publish the keys that verify access tokens, retired ones included during the overlap."""
    return JSONResponse(request.app.state.access_keys.jwks(), headers=_PUBLIC_CACHE)


@router.get("/.well-known/oauth-authorization-server", tags=["oauth"],
            operation_id="get_authorization_server_metadata")
async def server_metadata(request: Request) -> JSONResponse:
    """Describe this authorization server (RFC 8414)."""
    issuer = request.app.state.settings.issuer
    return JSONResponse(authorization_server_metadata(issuer, _scopes(request)),
                        headers=_PUBLIC_CACHE)


@router.get("/.well-known/oauth-protected-resource/{name}", tags=["oauth"],
            operation_id="get_protected_resource_metadata", responses=NOT_FOUND)
async def resource_metadata(name: str, request: Request) -> JSONResponse:
    """Describe one protected resource and who issues its tokens (RFC 9728)."""
    issuer = request.app.state.settings.issuer
    try:
        doc = protected_resource_metadata(issuer, name, _scopes(request))
    except KeyError:
        raise NotFound(f"This gateway serves no resource {name!r}.") from None
    return JSONResponse(doc, headers=_PUBLIC_CACHE)


@router.post("/oauth/token", tags=["oauth"], operation_id="create_token",
             responses=TOKEN_RESPONSES, openapi_extra=TOKEN_REQUEST)
async def token(request: Request, db: SessionDep) -> Response:
    """Exchange a code, a refresh token or client credentials for tokens (RFC 6749 3.2)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request",
                         "Send the parameters as application/x-www-form-urlencoded.")
    response = await request.app.state.oauth.token_response(request, db)
    # A token request may have revoked a family (code or refresh token replay): once
    # this request has committed, make the next token check read gw_revocations.
    response.background = BackgroundTask(request.app.state.revocations.invalidate)
    return response  # type: ignore[no-any-return]
