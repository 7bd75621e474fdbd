"""The consent page: a person decides what an agent may do for them (RFC 6749 section 4.1.1).

GET shows the agent (its name, who publishes it, where its client id is hosted),
each requested scope in plain words as a checkbox, ticked, for scopes a constraint
applies to (chat channels) checkboxes to narrow it, and a spending mandate (RFC
9396 ``authorization_details``) in plain words in its own section. POST is the
person's decision: people-only (a web session, never a token) and CSRF-checked.
Approving records the ticked scopes and sends the agent its code; denying, or
approving with nothing ticked, sends ``error=access_denied``. An agent already
connected for the same resource keeps one connection (gw_grants row), which
becomes what the person ticks now; the page says so and shows what it has.
Both redirects carry ``state`` and ``iss`` (RFC 9207).

The person may grant less than asked (RFC 6749 section 3.3), and often should:
MCP clients ask for every scope the resource lists in ``scopes_supported``. The
token response then names the narrower scope (section 5.1). Without
``payments:spend`` the grant keeps no mandate.

The authorization request travels through the form unchanged (``request``) and is
validated again on POST: nothing the page showed is trusted back. The scopes it
asks for bound what a ticked ``scope`` value can grant, so a forged form can
narrow the grant but never widen it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from gateway.auth import apply_revocations_now, check_csrf
from gateway.db import SessionDep
from gateway.identity import grants
from gateway.identity.auth import PersonSession
from gateway.identity.models import Grant, User
from gateway.oauth.authorization_details import granted_details
from gateway.oauth.server import GatewayAuthorizationServer, OAuthRequest
from gateway.payments.mandates import mandate_of
from gateway.policy.scopes import scope_descriptions
from gateway.principal import Principal
from gateway.web.agents import ConstraintField, proposed_constraints
from gateway.web.client import PageClient
from gateway.web.errors import wants_html
from gateway.web.grant_views import KINDS, constraint_kinds, declared_kinds, host_of
from gateway.web.pages import render
from services.common.problems import Problem

router = APIRouter(dependencies=[Depends(wants_html)], include_in_schema=False)


@dataclass(frozen=True)
class AgentCard:
    name: str
    kind: str
    by: str
    host: str | None
    client_id: str


async def _validated(request: Request, db: SessionDep, principal: Principal,
                     items: list[tuple[str, str]]) -> tuple[OAuthRequest, object | Response]:
    """Validate the authorization request; an error goes back to the agent if it safely can."""
    server: GatewayAuthorizationServer = request.app.state.oauth
    oauth_request = server.build_request(request, db, items)
    try:
        grant = await server.run(oauth_request, server.get_consent_grant, oauth_request,
                                 principal.user_id)
    except OAuth2Error as error:
        if error.redirect_uri:
            # The client and redirect URI are known good: tell the agent (section 4.1.2.1).
            return oauth_request, server.handle_error_response(oauth_request, error)
        # Unknown client or redirect URI: never redirect there; tell the person.
        raise Problem(400, "oauth-error",
                      f"This authorization request is not valid: {error.description}",
                      error=error.error) from None
    return oauth_request, grant


async def _agent_card(db: SessionDep, oauth_request: OAuthRequest,
                      principal: Principal) -> AgentCard:
    agent = oauth_request.client.agent
    by = agent.publisher
    if not by and agent.owner_id is not None:
        owner = await db.get(User, agent.owner_id)
        by = "you" if agent.owner_id == principal.user_id else (
            owner.display_name if owner else "")
    return AgentCard(name=agent.name, kind=KINDS.get(agent.kind, agent.kind),
                     by=by or "Publisher not stated", host=host_of(agent.client_id),
                     client_id=agent.client_id)


def described_scopes(request: Request, scopes: Iterable[str]) -> list[tuple[str, str]]:
    """Each scope with the plain words a person reads for it (the scope itself if none)."""
    descriptions = scope_descriptions(request.app.state.services)
    return [(scope, descriptions.get(scope, scope)) for scope in scopes]


def chosen_scopes(form: FormData, asked: Iterable[str]) -> list[str]:
    """The scopes the person ticked (``scope`` values), in asked order, never one not asked.

    ``asked`` comes from the server (the request validated again, or the stored
    device authorization), never from the page, so a forged value is ignored.
    """
    ticked = {value for value in form.getlist("scope") if isinstance(value, str)}
    return [scope for scope in dict.fromkeys(asked) if scope in ticked]


async def constraint_fields(request: Request, principal: Principal, scopes: set[str],
                            current: Grant | None = None) -> list[ConstraintField]:
    """A constraint field for each declared constraint the requested scopes fall under.

    ``current``: the agent's existing connection (a second consent); its limits come
    ticked as they are, so allowing with the defaults never lifts one.
    """
    client = PageClient(request, principal)
    keys = {key for key, (_, kind, _) in declared_kinds(client).items()
            if kind.applies_to & scopes}
    kinds = await constraint_kinds(client, keys)
    held = current.constraints if current is not None else {}
    return [ConstraintField(key, kinds[key].description, True, kinds[key].choices or [],
                            kept=held.get(key))
            for key in sorted(keys) if kinds[key].choices is not None]


def consent_context(request: Request, scopes: list[str], current: Grant | None) -> dict[str, Any]:
    """What both consent pages show of a second consent: the connection, the defaults.

    Scopes come ticked only if the connection holds them: a scope the person refused
    before (a client asks for everything again) needs a new tick, never a default.
    """
    if current is None:
        return {"connected": None, "ticked": None, "connected_mandate": None}
    held = current.scope.split()
    return {"connected": described_scopes(request, held),
            "ticked": [scope for scope in scopes if scope in held],
            "connected_mandate": mandate_of(current.authorization_details)}


@router.get("/oauth/authorize")
async def consent_page(request: Request, db: SessionDep, principal: PersonSession) -> Response:
    """Show what the agent asks for, in plain words, for the person to approve or deny."""
    items = list(request.query_params.multi_items())
    oauth_request, grant = await _validated(request, db, principal, items)
    if isinstance(grant, Response):
        return grant
    scopes = (oauth_request.scope or "").split()
    existing = await grants.connection_of(db, principal.user_id, oauth_request.client.agent.id,
                                          oauth_request.resource)
    return render(request, principal, "agents", "oauth/consent.html", {
        **consent_context(request, scopes, existing),
        "agent": await _agent_card(db, oauth_request, principal),
        "scopes": described_scopes(request, scopes),
        "fields": await constraint_fields(request, principal, set(scopes), existing),
        "request_query": urlencode(items),
        "resource": oauth_request.resource,
        "mandate": mandate_of(oauth_request.authorization_details),
    })


@router.post("/oauth/authorize")
async def decide(request: Request, db: SessionDep, principal: PersonSession) -> Response:
    """Grant the ticked scopes and send the agent its code, or send it access_denied."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    items = parse_qsl(str(form.get("request", "")), keep_blank_values=True)
    oauth_request, grant = await _validated(request, db, principal, items)
    if isinstance(grant, Response):
        return grant
    server: GatewayAuthorizationServer = request.app.state.oauth
    chosen = chosen_scopes(form, (oauth_request.scope or "").split())
    user = None
    # Nothing ticked grants nothing: the same answer as Deny.
    if form.get("decision") == "approve" and chosen:
        user = principal.user_id
        # A new connection, or the agent's existing one for this resource made what
        # she just ticked (gateway/identity/grants.py).
        record = await grants.record_consent(
            db, principal.user_id, oauth_request.client.agent.id, scopes=chosen,
            constraints=proposed_constraints(form, {}), resource=oauth_request.resource,
            # Validated again just now (_validated), never read from the page;
            # kept only if payments:spend is among the chosen scopes.
            details=granted_details(oauth_request.authorization_details, chosen))
        oauth_request.grant_row_id = record.id
    response: Response = await server.run(oauth_request, server.create_authorization_response,
                                          oauth_request, user, grant)
    # The agent's redirect, not a page: 303 so the browser follows it with a GET.
    if response.status_code == 302:
        response.status_code = 303
    if user is not None:
        # A second consent may have stopped the agent's earlier tokens: at once, here.
        response.background = apply_revocations_now(request)
    return response
