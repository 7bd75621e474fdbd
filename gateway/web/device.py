"""The person's side of the device flow (RFC 8628 section 3.3): the /device page.

An agent without a browser shows the person a user code and this page's address.
The person, signed in, types the code (or follows ``verification_uri_complete``),
sees which agent asks for what, in plain words (a spending mandate too), and
approves (possibly less than asked: fewer scopes, only some channels; without
``payments:spend`` the mandate is not granted) or denies. Approving records the grant
(the agent's existing connection, if it has one, becomes what was approved);
the agent's next poll of the token endpoint then gets its tokens.

People-only (``PersonSession``) with the session's CSRF token on the decision, so
no token, and no other site, can approve a device. Section 5.4 (remote phishing):
the page names the agent and its publisher and asks the person to approve only a
code their own device shows.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gateway.auth import apply_revocations_now, check_csrf
from gateway.db import SessionDep
from gateway.identity import grants
from gateway.identity.auth import PersonSession
from gateway.identity.models import Agent
from gateway.oauth import device
from gateway.oauth.authorization_details import granted_details
from gateway.oauth.consent import (
    chosen_scopes,
    consent_context,
    constraint_fields,
    described_scopes,
)
from gateway.oauth.models import DeviceCode
from gateway.payments.mandates import InvalidMandate, mandate_of, parse_authorization_details
from gateway.principal import Principal
from gateway.web.agents import proposed_constraints
from gateway.web.pages import render

router = APIRouter(prefix="/device")

NOT_FOUND = ("That code is not valid: it may have been mistyped, expired, or already used. "
             "Check the code your device shows now.")


def _form(request: Request, principal: Principal, *, user_code: str = "",
          error: str | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, principal, "agents", "oauth/device.html",
                  {"user_code": user_code, "error": error}, status_code=status_code)


async def _consent(request: Request, principal: Principal, db: SessionDep, record: DeviceCode,
                   agent: Agent) -> HTMLResponse:
    host = urlsplit(agent.client_id).hostname if agent.client_id.startswith("https://") else None
    existing = await grants.connection_of(db, principal.user_id, agent.id, record.resource)
    return render(request, principal, "agents", "oauth/device_consent.html", {
        **consent_context(request, record.scope.split(), existing),
        "record": record, "agent": agent, "host": host,
        "scopes": described_scopes(request, record.scope.split()),
        "fields": await constraint_fields(request, principal, set(record.scope.split()),
                                          existing),
        "mandate": mandate_of(record.authorization_details),
    })


def _granted_details(request: Request, record: DeviceCode,
                     chosen: list[str]) -> list[dict[str, Any]]:
    """The mandate asked for, validated again; none if the person unticked payments:spend."""
    try:
        details = parse_authorization_details(
            json.dumps(record.authorization_details),
            known_services=request.app.state.services.services.keys())
    except InvalidMandate:
        # A service it names is gone since it asked: grant no mandate rather than a wrong one.
        return []
    return granted_details(details, chosen)


@router.get("")
async def device_page(request: Request, principal: PersonSession, db: SessionDep,
                      user_code: str | None = None) -> HTMLResponse:
    """Ask for the code a device shows; with a code, show what its agent asks for."""
    if not user_code:
        return _form(request, principal)
    found = await device.find_pending(db, user_code)
    if found is None:
        return _form(request, principal, user_code=user_code, error=NOT_FOUND, status_code=404)
    return await _consent(request, principal, db, *found)


@router.post("")
async def decide(request: Request, principal: PersonSession, db: SessionDep) -> HTMLResponse:
    """Approve (with the ticked scopes, never more than asked) or deny a device's request."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    user_code = str(form.get("user_code", ""))
    found = await device.find_pending(db, user_code)
    if found is None:
        return _form(request, principal, user_code=user_code, error=NOT_FOUND, status_code=404)
    record, agent = found
    chosen = chosen_scopes(form, record.scope.split())
    if form.get("decision") != "approve":
        await device.decide(db, record, principal.user_id, grant_id=None)
        return render(request, principal, "agents", "oauth/device_done.html",
                      {"agent": agent, "approved": False})
    if not chosen:
        return await _consent(request, principal, db, record, agent)
    grant = await grants.record_consent(
        db, principal.user_id, agent.id, scopes=chosen,
        constraints=proposed_constraints(form, {}), resource=record.resource,
        details=_granted_details(request, record, chosen))
    await device.decide(db, record, principal.user_id, grant_id=grant.id)
    page = render(request, principal, "agents", "oauth/device_done.html",
                  {"agent": agent, "approved": True})
    # A second consent may have stopped the agent's earlier tokens: at once, here.
    page.background = apply_revocations_now(request)
    return page
