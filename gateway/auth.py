"""Authenticating callers of the gateway (stage 1 of the pipeline).

Today: a person's web session cookie. Agents' bearer tokens plug in here too, so
every route (REST, web pages, MCP) resolves its caller in one place.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.db import SessionDep
from gateway.identity.sessions import CSRF_HEADER, SESSION_COOKIE, find_session, tokens_match
from gateway.principal import Principal
from gateway.timing import stage
from services.common.problems import Problem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def www_authenticate(request: Request) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="{request.app.state.settings.issuer}"'}


async def optional_principal(request: Request, db: SessionDep) -> Principal | None:
    """The signed-in person, or None. Also enforces CSRF on unsafe cookie-authenticated calls."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    with stage("auth"):
        active = await find_session(db, request.cookies.get(SESSION_COOKIE))
    if active is None:
        return None
    principal = Principal(
        user_id=active.user.id,
        username=active.user.username,
        display_name=active.user.display_name,
        scopes=request.app.state.services.person_scopes(),
        via="session",
        csrf_token=active.csrf_token,
    )
    request.state.principal = principal
    return principal


async def require_principal(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    if principal is None:
        raise Problem(401, "unauthorized", "Sign in, or send a bearer token.",
                      headers=www_authenticate(request))
    return principal


def check_csrf(request: Request, principal: Principal, submitted: str | None = None) -> None:
    """Refuse an unsafe cookie-authenticated request without this session's CSRF token."""
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    token = submitted if submitted is not None else request.headers.get(CSRF_HEADER)
    if not tokens_match(token, principal.csrf_token):
        raise Problem(403, "csrf-failed",
                      f"Send this session's CSRF token in the {CSRF_HEADER} header or form.")


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
