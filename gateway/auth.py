"""Authenticating callers of the gateway (stage 1 of the pipeline).

A bearer access token (RFC 6750 section 2.1: an agent, or a person's API token)
is tried first, then the person's web session cookie, so every route (REST, web
pages, MCP) resolves its caller in one place. A 401 says where to learn how to get
a token: ``resource_metadata`` (RFC 9728 section 5.1).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import SessionDep
from gateway.identity.models import Agent, Grant, User
from gateway.identity.sessions import CSRF_HEADER, SESSION_COOKIE, find_session, tokens_match
from gateway.oauth.resources import metadata_url, resource_for_path, resource_name_for_path
from gateway.oauth.tokens import AccessClaims, AccessTokens, InvalidAccessToken
from gateway.principal import Principal
from gateway.timing import stage
from services.common.db import utcnow
from services.common.problems import Problem
from services.common.txn_token import Actor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# "When it last acted" needs minutes, not a write on every call.
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


def www_authenticate(request: Request, *, error: str | None = None,
                     description: str | None = None) -> dict[str, str]:
    """The RFC 6750 section 3 challenge, pointing at the RFC 9728 metadata."""
    issuer = request.app.state.settings.issuer
    metadata = metadata_url(issuer, resource_name_for_path(request.url.path))
    value = f'Bearer realm="{issuer}", resource_metadata="{metadata}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return {"WWW-Authenticate": value}


def _invalid_token(request: Request, reason: str) -> Problem:
    return Problem(401, "invalid-token", f"The access token is not valid: {reason}.",
                   headers=www_authenticate(request, error="invalid_token", description=reason))


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _token_principal(request: Request, db: AsyncSession, token: str) -> Principal:
    """Verify a bearer token for the resource being called and resolve who it speaks for."""
    tokens: AccessTokens = request.app.state.access_tokens
    audience = resource_for_path(request.app.state.settings.issuer, request.url.path)
    try:
        claims = await tokens.verify(token, audience=audience)
    except InvalidAccessToken as exc:
        raise _invalid_token(request, str(exc)) from exc
    if claims.person_id is None:
        return await _agent_principal(request, db, claims)
    if claims.grant_id is None:
        raise _invalid_token(request, "the token names no grant")
    row = (await db.execute(
        select(Grant, User, Agent).join(User, User.id == Grant.user_id)
        .outerjoin(Agent, Agent.id == Grant.agent_id)
        .where(Grant.id == uuid.UUID(claims.grant_id), Grant.user_id == claims.person_id)
    )).first()
    now = utcnow()
    if row is None or row[0].revoked_at is not None or (
            row[0].expires_at is not None and row[0].expires_at <= now):
        raise _invalid_token(request, "the grant was revoked")
    grant, user, agent = row
    await _note_use(request, now, grant, agent)
    actors = tuple(Actor(sub=link.sub, name=agent.name if i == 0 and agent else None)
                   for i, link in enumerate(claims.act))
    return Principal(
        user_id=user.id, username=user.username, display_name=user.display_name,
        # The grant is never narrower than a live token (narrowing revokes older
        # versions), but intersecting costs nothing and fails closed.
        scopes=claims.scope & frozenset(grant.scope.split()),
        via="token", actors=actors, constraints=dict(claims.constraints),
        grant_id=grant.id, client_id=claims.client_id, agent_id=claims.agent_id,
        jti=claims.jti, token_audience=claims.aud)


async def _agent_principal(request: Request, db: AsyncSession, claims: AccessClaims) -> Principal:
    """An agent acting as itself (client credentials): a principal with no person."""
    agent = await db.get(Agent, claims.agent_id) if claims.agent_id else None
    if agent is None:
        raise _invalid_token(request, "the agent no longer exists")
    actor = Actor(sub=claims.sub, name=agent.name)
    return Principal(
        user_id=agent.id, username=agent.client_id, display_name=agent.name,
        scopes=claims.scope, via="token", actors=(actor,), client_id=claims.client_id,
        agent_id=agent.id, jti=claims.jti, token_audience=claims.aud, has_person=False)


async def _note_use(request: Request, now: dt.datetime, grant: Grant,
                    agent: Agent | None) -> None:
    """Record when the grant and its agent last acted, at most once a minute.

    In its own short transaction: the request's session must not hold a write lock
    while the call is forwarded (on SQLite the service would wait for it).
    """
    stale = [(model, record.id) for model, record in ((Grant, grant), (Agent, agent))
             if record is not None and (record.last_used_at is None
                                        or now - record.last_used_at > LAST_USED_GRANULARITY)]
    if not stale:
        return
    async with request.app.state.sessionmaker() as session, session.begin():
        for model, record_id in stale:
            await session.execute(update(model).where(model.id == record_id)
                                  .values(last_used_at=now))


async def optional_principal(request: Request, db: SessionDep) -> Principal | None:
    """The caller, or None. Also enforces CSRF on unsafe cookie-authenticated calls."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = _bearer_token(request)
    if token is not None:
        with stage("auth"):
            principal = await _token_principal(request, db, token)
        request.state.principal = principal
        return principal
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
