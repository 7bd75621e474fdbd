"""Small factories for agents, grants, sub-agent grants and refresh tokens.

They add and flush, never commit: a test owns its session and decides when (and
whether) the rows become visible to the app under test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
import time
import uuid

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent, Grant, User
from gateway.oauth.models import RefreshToken
from gateway.oauth.resources import resource_url
from gateway.oauth.tokens import AccessClaims, AccessTokens
from services.common.db import utcnow


async def make_person(db: AsyncSession, username: str | None = None) -> User:
    """A person who can't sign in (no usable password): for service-level tests."""
    username = username or f"p{uuid.uuid4().hex[:10]}"
    user = User(username=username, display_name=username.title(),
                email=f"{username}@example.test", password_hash="!")
    db.add(user)
    await db.flush()
    return user


async def make_agent(db: AsyncSession, name: str = "Trip Planner", *,
                     publisher: str = "Example Labs", kind: str = "web",
                     client_id: str | None = None, owner: User | None = None,
                     registration: str = "metadata_document") -> Agent:
    slug = name.lower().replace(" ", "-")
    agent = Agent(
        client_id=client_id or f"https://{slug}.example/{uuid.uuid4().hex[:8]}/client.json",
        name=name, kind=kind, registration=registration, publisher=publisher,
        owner_id=owner.id if owner else None, scope="chat:read chat:write rides:read")
    db.add(agent)
    await db.flush()
    return agent


async def make_grant(db: AsyncSession, person: User | uuid.UUID, agent: Agent | None, *,
                     scope: str = "chat:read rides:read",
                     constraints: dict[str, list[str]] | None = None, label: str = "",
                     expires_at: dt.datetime | None = None) -> Grant:
    """A grant of ``person`` to ``agent`` (None: the person's own API token)."""
    grant = Grant(user_id=person if isinstance(person, uuid.UUID) else person.id,
                  agent_id=agent.id if agent else None, scope=scope,
                  constraints=constraints or {}, label=label, expires_at=expires_at)
    db.add(grant)
    await db.flush()
    return grant


async def make_sub_grant(db: AsyncSession, parent: Grant, agent: Agent, *,
                         scope: str | None = None,
                         constraints: dict[str, list[str]] | None = None) -> Grant:
    """A sub-agent's grant under ``parent`` (as token exchange makes it); defaults to the same."""
    grant = Grant(user_id=parent.user_id, agent_id=agent.id, parent_id=parent.id,
                  scope=parent.scope if scope is None else scope,
                  constraints=dict(parent.constraints) if constraints is None else constraints,
                  resources=list(parent.resources))
    db.add(grant)
    await db.flush()
    return grant


async def make_refresh_token(db: AsyncSession, grant: Grant) -> RefreshToken:
    assert grant.agent_id is not None, "a person's API token has no refresh token"
    token = RefreshToken(
        token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(), family_id=uuid.uuid4(),
        grant_id=grant.id, agent_id=grant.agent_id, user_id=grant.user_id, scope=grant.scope,
        resource="https://gateway.test/api", expires_at=utcnow() + dt.timedelta(days=30))
    db.add(token)
    await db.flush()
    return token


async def access_claims(app: FastAPI, grant: Grant | uuid.UUID, *, scope: str | None = None,
                        audience: str | None = None, lifetime: int | None = None,
                        issued_at: int | None = None) -> AccessClaims:
    """The claims the gateway would put in a token for ``grant`` (committed, in the app's DB)."""
    tokens: AccessTokens = app.state.access_tokens
    grant_id = grant.id if isinstance(grant, Grant) else grant
    async with app.state.sessionmaker() as db:
        row = await db.get(Grant, grant_id)
        assert row is not None, "commit the grant before minting a token for it"
        claims = await tokens.claims_for_grant(
            db, row, audience=audience or resource_url(app.state.settings.issuer),
            scope=frozenset(scope.split()) if scope is not None else None)
    iat = int(time.time()) if issued_at is None else issued_at
    return dataclasses.replace(claims, iat=iat, exp=iat + (lifetime or tokens.ttl))


async def mint_access_token(app: FastAPI, grant: Grant | uuid.UUID, *, scope: str | None = None,
                            audience: str | None = None, lifetime: int | None = None,
                            issued_at: int | None = None) -> str:
    """A signed access token for ``grant``, as the token endpoint would issue it.

    ``scope`` defaults to the grant's; ``audience`` to ``<issuer>/api``. The act
    chain follows the grant's parents, so a sub-agent's grant gives a nested ``act``.
    """
    claims = await access_claims(app, grant, scope=scope, audience=audience, lifetime=lifetime,
                                 issued_at=issued_at)
    tokens: AccessTokens = app.state.access_tokens
    return tokens.mint(claims)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def personal_token(app: FastAPI, person: User | uuid.UUID, *, scope: str,
                         label: str) -> dict[str, str]:
    """Headers with a person's own API token (no agent): to act, or look, as them."""
    async with app.state.write_sessionmaker() as db:
        grant = await make_grant(db, person, None, scope=scope, label=label)
        await db.commit()
    return bearer(await mint_access_token(app, grant))
