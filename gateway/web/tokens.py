"""The API tokens page: a person creates, sees and revokes their own API tokens.

People-only (``PersonSession``): no bearer token reaches it, not even a personal
one, so a leaked token can't mint itself a successor. Every form carries the
session's CSRF token. A new token is shown in the response to the POST that made
it and nowhere else: it is not stored, so it can't be shown again.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.auth import apply_revocations_now, check_csrf
from gateway.db import SessionDep
from gateway.identity.auth import PersonSession
from gateway.oauth import personal
from gateway.oauth.resources import resource_url
from gateway.policy.scopes import scope_descriptions
from gateway.principal import Principal
from gateway.web.pages import render

router = APIRouter(prefix="/tokens")


async def _page(request: Request, principal: Principal, db: SessionDep, *,
                created: personal.IssuedToken | None = None, error: str | None = None,
                revoked: bool = False, status_code: int = 200) -> HTMLResponse:
    scopes = scope_descriptions(request.app.state.services)
    tokens = await personal.list_tokens(db, principal.user_id)
    return render(request, principal, "tokens", "tokens/index.html", {
        "tokens": [(t, [scopes.get(s, s) for s in t.scope.split()]) for t in tokens],
        "scopes": sorted(scopes.items()),
        "lifetimes": personal.LIFETIME_CHOICES,
        "default_lifetime": personal.DEFAULT_LIFETIME_DAYS,
        "created": created, "error": error, "revoked": revoked,
    }, status_code=status_code)


@router.get("")
async def tokens_home(request: Request, principal: PersonSession, db: SessionDep,
                      revoked: int = 0) -> HTMLResponse:
    """List your API tokens, with a form to create one."""
    return await _page(request, principal, db, revoked=bool(revoked))


@router.post("")
async def create(request: Request, principal: PersonSession, db: SessionDep) -> HTMLResponse:
    """Create an API token and show it, this once."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    try:
        days = int(str(form.get("days", personal.DEFAULT_LIFETIME_DAYS)))
    except ValueError:
        days = 0
    try:
        issued = await personal.create_token(
            db, request.app.state.access_tokens, principal.user_id,
            label=str(form.get("label", "")), scopes=[str(s) for s in form.getlist("scope")],
            known_scopes=scope_descriptions(request.app.state.services), days=days,
            audience=resource_url(request.app.state.settings.issuer))
    except personal.InvalidTokenRequest as exc:
        return await _page(request, principal, db, error=exc.detail, status_code=422)
    return await _page(request, principal, db, created=issued)


@router.post("/{grant_id}/revoke")
async def revoke(request: Request, principal: PersonSession, db: SessionDep,
                 grant_id: uuid.UUID) -> RedirectResponse:
    """Revoke an API token: it stops working within a second."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    await personal.revoke_token(db, principal.user_id, grant_id)
    return RedirectResponse("/tokens?revoked=1", status_code=303,
                            background=apply_revocations_now(request))


