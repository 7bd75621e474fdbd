"""The authorization server's endpoints beside the token endpoint: device, revoke, introspect.

- ``POST /oauth/device_authorization``: RFC 8628 section 3.1/3.2.
- ``POST /oauth/revoke``: RFC 7009 section 2.
- ``POST /oauth/introspect``: RFC 7662 section 2.

None of them issues a token, so none needs Authlib's synchronous grant machinery:
each is a plain async route that authenticates the client with the ClientRegistry
(the same methods as the token endpoint) and answers RFC 6749 section 5.2 errors
through :class:`OAuthError`. The device code is redeemed at the token endpoint
by the grant in gateway/oauth/grants/device_code.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gateway.db import SessionDep
from gateway.identity.models import Agent
from gateway.oauth import device, introspection
from gateway.oauth.authorization_details import requested_details
from gateway.oauth.errors import NO_STORE, OAuthError
from gateway.oauth.resources import resource_url, served_resources
from gateway.oauth.schemas import (
    DEVICE_AUTHORIZATION_REQUEST,
    DEVICE_AUTHORIZATION_RESPONSES,
    INTROSPECTION_RESPONSES,
    REVOCATION_RESPONSES,
    TOKEN_FORM_REQUEST,
)
from gateway.oauth.server import OAuthClient
from gateway.policy.scopes import scope_descriptions

router = APIRouter(prefix="/oauth", tags=["oauth"])


async def _client(request: Request, db: SessionDep, endpoint: str) -> tuple[Agent, dict[str, str]]:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    agent: Agent = await request.app.state.clients.authenticate(
        db, None, form, request.headers, endpoint)
    return agent, form


async def _token_request(request: Request, db: SessionDep, endpoint: str,
                         verb: str) -> tuple[Agent, dict[str, str], str]:
    """The authenticated client, its form and the ``token`` it sends (RFC 7009 / RFC 7662)."""
    agent, form = await _client(request, db, endpoint)
    token = introspection.form_value(form, "token")
    if token is None:
        raise OAuthError("invalid_request", f"Send the token to {verb}.")
    return agent, form, token


def _device_scope(request: Request, agent: Agent, asked: str | None) -> str:
    """The scope a device authorization asks for: within what the agent registered."""
    known = set(scope_descriptions(request.app.state.services))
    registered = set(agent.scope.split()) & known
    if asked is None:
        if not registered:
            raise OAuthError("invalid_scope", "Ask for a scope.")
        return " ".join(sorted(registered))
    wanted = asked.split()
    beyond = sorted(set(wanted) - registered)
    if not wanted or beyond:
        raise OAuthError("invalid_scope",
                         f"Not registered for, or unknown: {' '.join(beyond) or '(none)'}.")
    return " ".join(dict.fromkeys(wanted))


@router.post("/device_authorization", operation_id="device_authorization",
             responses=DEVICE_AUTHORIZATION_RESPONSES,
             openapi_extra=DEVICE_AUTHORIZATION_REQUEST)
async def device_authorization(request: Request, db: SessionDep) -> JSONResponse:
    """Start a device authorization: a device code to poll with and a code for the person."""
    agent, form = await _client(request, db, "device_authorization")
    # The same rule as at the token endpoint (the grant types it registered, or its kind's).
    if not OAuthClient(agent, request.app.state.clients).check_grant_type(
            device.DEVICE_CODE_GRANT_TYPE):
        raise OAuthError("unauthorized_client", "This client is not registered for the "
                         "device authorization grant.")
    if agent.kind == "service":
        raise OAuthError("unauthorized_client", "A service acts as itself: use client "
                         "credentials, no person's approval.")
    issuer = request.app.state.settings.issuer
    resource = form.get("resource") or resource_url(issuer)
    if resource not in served_resources(issuer):
        raise OAuthError("invalid_target", "This gateway serves no such resource.")
    scope = _device_scope(request, agent, form.get("scope"))
    # RFC 9396 section 6: the device flow takes authorization details like the code flow.
    details = requested_details(form.get("authorization_details"), scopes=scope.split(),
                                known_services=request.app.state.services.services.keys())
    started = await device.start(db, agent, scope=scope, resource=resource,
                                 authorization_details=details)
    verification_uri = f"{issuer}/device"
    body: dict[str, Any] = {
        "device_code": started.device_code,
        "user_code": started.record.user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete":
            f"{verification_uri}?{urlencode({'user_code': started.record.user_code})}",
        "expires_in": int(device.DEVICE_CODE_TTL.total_seconds()),
        "interval": started.record.interval,
    }
    return JSONResponse(body, headers=NO_STORE)


@router.post("/revoke", operation_id="revoke_token",
             responses=REVOCATION_RESPONSES, openapi_extra=TOKEN_FORM_REQUEST)
async def revoke(request: Request, db: SessionDep) -> Response:
    """Revoke one of your tokens (RFC 7009); any token you can't revoke is answered 200 too."""
    agent, form, token = await _token_request(request, db, "revocation", "revoke")
    await introspection.revoke(db, request.app.state.access_tokens, agent, token,
                               hint=form.get("token_type_hint"),
                               issuer=request.app.state.settings.issuer)
    return Response(status_code=200, headers=NO_STORE)


@router.post("/introspect", operation_id="introspect_token",
             responses=INTROSPECTION_RESPONSES, openapi_extra=TOKEN_FORM_REQUEST)
async def introspect(request: Request, db: SessionDep) -> JSONResponse:
    """Say whether one of your tokens is active, and what it carries (RFC 7662)."""
    agent, form, token = await _token_request(request, db, "introspection", "introspect")
    answer = await introspection.introspect(
        db, request.app.state.access_tokens, agent, token, hint=form.get("token_type_hint"),
        issuer=request.app.state.settings.issuer)
    return JSONResponse(answer, headers=NO_STORE)
