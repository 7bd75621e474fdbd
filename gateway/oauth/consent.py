"""The consent page: a person decides what an agent may do for them (RFC 6749 section 4.1.1).

GET shows the agent (its name, who publishes it, where its client id is hosted),
each requested scope in plain words, for scopes a constraint applies to (chat
channels) checkboxes to narrow it, and a spending mandate (RFC 9396
``authorization_details``) in plain words in its own section. POST is the person's
decision: people-only (a web session, never a token) and CSRF-checked. Approving
records a gw_grants row and sends the agent its code; denying sends
``error=access_denied``. Both redirects carry ``state`` and ``iss`` (RFC 9207).

The authorization request travels through the form unchanged (``request``) and is
validated again on POST: nothing the page showed is trusted back.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gateway.auth import check_csrf
from gateway.db import SessionDep
from gateway.identity.auth import PersonSession
from gateway.identity.models import Grant, User
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


async def constraint_fields(request: Request, principal: Principal,
                  scopes: set[str]) -> list[ConstraintField]:
    """A constraint field for each declared constraint the requested scopes fall under."""
    client = PageClient(request, principal)
    keys = {key for key, (_, kind, _) in declared_kinds(client).items()
            if kind.applies_to & scopes}
    kinds = await constraint_kinds(client, keys)
    return [ConstraintField(key, kinds[key].description, True, kinds[key].choices or [])
            for key in sorted(keys) if kinds[key].choices is not None]


@router.get("/oauth/authorize")
async def consent_page(request: Request, db: SessionDep, principal: PersonSession) -> Response:
    """Show what the agent asks for, in plain words, for the person to approve or deny."""
    items = list(request.query_params.multi_items())
    oauth_request, grant = await _validated(request, db, principal, items)
    if isinstance(grant, Response):
        return grant
    scopes = (oauth_request.scope or "").split()
    descriptions = scope_descriptions(request.app.state.services)
    return render(request, principal, "agents", "oauth/consent.html", {
        "agent": await _agent_card(db, oauth_request, principal),
        "scopes": [(s, descriptions.get(s, s)) for s in scopes],
        "fields": await constraint_fields(request, principal, set(scopes)),
        "request_query": urlencode(items),
        "resource": oauth_request.resource,
        "mandate": mandate_of(oauth_request.authorization_details),
    })


@router.post("/oauth/authorize")
async def decide(request: Request, db: SessionDep, principal: PersonSession) -> Response:
    """Record the person's decision and send the agent back with a code or access_denied."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    items = parse_qsl(str(form.get("request", "")), keep_blank_values=True)
    oauth_request, grant = await _validated(request, db, principal, items)
    if isinstance(grant, Response):
        return grant
    server: GatewayAuthorizationServer = request.app.state.oauth
    user = None
    if form.get("decision") == "approve":
        user = principal.user_id
        record = Grant(user_id=principal.user_id, agent_id=oauth_request.client.agent.id,
                       scope=oauth_request.scope or "",
                       constraints=proposed_constraints(form, {}),
                       resources=[oauth_request.resource],
                       # Validated again just now (_validated), never read from the page.
                       authorization_details=oauth_request.authorization_details)
        db.add(record)
        await db.flush()
        oauth_request.grant_row_id = record.id
    response: Response = await server.run(oauth_request, server.create_authorization_response,
                                          oauth_request, user, grant)
    # The agent's redirect, not a page: 303 so the browser follows it with a GET.
    if response.status_code == 302:
        response.status_code = 303
    return response
