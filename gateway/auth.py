"""Authenticating callers of the gateway (stage 1 of the pipeline).

A bearer access token (RFC 6750 section 2.1: an agent, or a person's API token)
is tried first, then the person's web session cookie, so every route (REST, web
pages, MCP) resolves its caller in one place. A 401 says where to learn how to get
a token: ``resource_metadata`` (RFC 9728 section 5.1).

What the database says about a session or a grant is cached for at most
``auth_cache_seconds`` (one second; gateway/cache.py): the same bound the
revocation cache already gives, so a busy caller costs no query per call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.background import BackgroundTask

from gateway.cache import TTLCache
from gateway.db import SessionDep
from gateway.identity.models import Agent, Grant, User
from gateway.identity.sessions import (
    CSRF_HEADER,
    SESSION_COOKIE,
    find_session,
    session_key,
    tokens_match,
)
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


def apply_revocations_now(request: Request) -> BackgroundTask:
    """After the request commits, make this replica apply a revocation it just wrote.

    Other replicas pick it up within ``revocation_poll_seconds``; the person who
    pressed "Revoke" talks to this one, and sees it take effect at once.
    """
    def apply() -> None:
        request.app.state.revocations.invalidate()
        request.app.state.grant_cache.clear()

    return BackgroundTask(apply)


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
    view = await _grant_view(request, db, uuid.UUID(claims.grant_id), claims.person_id,
                             claims.gv)
    now = utcnow()
    if view is None or view.revoked or (view.expires_at is not None and view.expires_at <= now):
        raise _invalid_token(request, "the grant was revoked")
    await db.commit()  # the reads are done: give the connection back first
    await _note_use(request.app.state.write_sessionmaker, now, view)
    actors = tuple(Actor(sub=link.sub, name=view.agent_name if i == 0 else None)
                   for i, link in enumerate(claims.act))
    return Principal(
        user_id=view.user_id, username=view.username, display_name=view.display_name,
        # The grant is never narrower than a live token (narrowing revokes older
        # versions), but intersecting costs nothing and fails closed.
        scopes=claims.scope & view.scopes,
        via="token", actors=actors, constraints=dict(claims.constraints),
        grant_id=view.grant_id, client_id=claims.client_id, agent_id=claims.agent_id,
        jti=claims.jti, token_audience=claims.aud)


@dataclass
class GrantView:
    """What a token check needs from a grant, its person and its agent (cached briefly)."""

    grant_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    display_name: str
    scopes: frozenset[str]
    revoked: bool
    expires_at: dt.datetime | None
    agent_id: uuid.UUID | None
    agent_name: str | None
    grant_last_used: dt.datetime | None
    agent_last_used: dt.datetime | None


async def _grant_view(request: Request, db: AsyncSession, grant_id: uuid.UUID,
                      person_id: uuid.UUID, version: int) -> GrantView | None:
    """The grant a token names, cached briefly per grant *version*.

    The version is the token's (``gv``): a token minted after the grant changed (a
    second consent widened it) misses an entry cached under the old version on any
    replica, so it never sees the old, narrower scopes. (Tokens of older versions
    are refused by the revocation check anyway.)
    """
    cache: TTLCache[tuple[uuid.UUID, uuid.UUID, int], GrantView] = request.app.state.grant_cache
    key = (grant_id, person_id, version)
    view = cache.get(key)
    if view is not None:
        return view
    row = (await db.execute(
        select(Grant, User, Agent).join(User, User.id == Grant.user_id)
        .outerjoin(Agent, Agent.id == Grant.agent_id)
        .where(Grant.id == grant_id, Grant.user_id == person_id)
    )).first()
    if row is None:
        return None
    grant, user, agent = row
    view = GrantView(
        grant_id=grant.id, user_id=user.id, username=user.username,
        display_name=user.display_name, scopes=frozenset(grant.scope.split()),
        revoked=grant.revoked_at is not None, expires_at=grant.expires_at,
        agent_id=agent.id if agent else None, agent_name=agent.name if agent else None,
        grant_last_used=grant.last_used_at, agent_last_used=agent.last_used_at if agent else None)
    cache.put(key, view)
    return view


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


async def _note_use(writes: async_sessionmaker[AsyncSession], now: dt.datetime,
                    view: GrantView) -> None:
    """Record when the grant and its agent last acted, at most once a minute.

    In its own short write transaction (on SQLite it begins IMMEDIATE, so it waits its
    turn rather than failing after a read), taken after the request's session has
    given its connection back: no lock or second connection is held while the call
    is forwarded.
    """
    def stale(at: dt.datetime | None) -> bool:
        return at is None or now - at > LAST_USED_GRANULARITY

    updates: list[tuple[type[Grant] | type[Agent], uuid.UUID]] = []
    if stale(view.grant_last_used):
        updates.append((Grant, view.grant_id))
    if view.agent_id is not None and stale(view.agent_last_used):
        updates.append((Agent, view.agent_id))
    if not updates:
        return
    # Noted before writing, so concurrent calls on this replica don't all write too.
    view.grant_last_used = view.agent_last_used = now
    async with writes() as session, session.begin():
        for model, record_id in updates:
            await session.execute(update(model).where(model.id == record_id)
                                  .values(last_used_at=now))


async def bearer_principal(request: Request, db: AsyncSession) -> Principal:
    """The caller named by the request's bearer token, or a 401 challenge.

    The token must be for the resource the request's path belongs to
    (gateway/oauth/resources.py): a token for ``/api`` is refused at ``/mcp`` and the
    other way round (RFC 8707 audience). No cookie is looked at, so a bearer-only
    resource (the MCP endpoint) calls this directly.
    """
    token = _bearer_token(request)
    if token is None:
        raise Problem(401, "unauthorized", "Send a bearer token.",
                      headers=www_authenticate(request))
    with stage("auth"):
        principal = await _token_principal(request, db, token)
        # End authentication's transaction now: its connection goes back to the pool
        # and no lock is held while the call runs (which may need connections of its
        # own: the ledger's, a service's, the activity writer's).
        await db.commit()
    return principal


async def optional_principal(request: Request, db: SessionDep) -> Principal | None:
    """The caller, or None. Also enforces CSRF on unsafe cookie-authenticated calls."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if _bearer_token(request) is not None:
        principal = await bearer_principal(request, db)
        request.state.principal = principal
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    key = session_key(cookie)
    if key is None:
        return None
    cache: TTLCache[str, tuple[Principal, dt.datetime]] = request.app.state.session_cache
    with stage("auth"):
        hit = cache.get(key)
        if hit is not None and hit[1] > utcnow():
            principal = hit[0]
        else:
            active = await find_session(db, cookie)
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
            cache.put(key, (principal, active.expires_at))
            await db.commit()  # as above: release the connection before the call runs
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
