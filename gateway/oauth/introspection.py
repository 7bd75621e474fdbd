"""Token revocation (RFC 7009) and introspection (RFC 7662), for the agent that holds the token.

Both endpoints authenticate the client first (the ClientRegistry, as at the token
endpoint) and then only ever act on that client's own tokens:

- Revocation (RFC 7009 section 2.1): an access token is revoked by its ``jti``
  (a ``Revocation(kind="jti")`` row, kept until the token would have expired
  anyway); a refresh token revokes its whole refresh family, which also stops
  every access token issued in it (their ``fam`` claim). Another client's token,
  an unknown one or an expired one is answered 200 and left alone (section 2.2:
  the client can't tell, and learns nothing).
- Introspection (RFC 7662 section 2.2): ``active: false`` and nothing else for
  anything expired, revoked, unknown or another client's (so a client can't probe
  tokens it does not hold); otherwise the token's claims.

Access tokens are JWTs (RFC 9068), so both read them with the one verifier
(gateway/oauth/tokens.py), which checks signature, issuer, expiry and revocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent, Grant, Revocation
from gateway.oauth.authorization_details import with_details
from gateway.oauth.models import RefreshToken
from gateway.oauth.resources import served_resources
from gateway.oauth.tokens import AccessClaims, AccessTokens, InvalidAccessToken
from services.common.db import utcnow

ACCESS_TOKEN_HINT = "access_token"
REFRESH_TOKEN_HINT = "refresh_token"


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def verify_access_token(tokens: AccessTokens, token: str, issuer: str) -> AccessClaims | None:
    """The claims of a live access token for any resource this gateway serves, or None."""
    if token.count(".") != 2:
        return None
    for audience in served_resources(issuer):
        try:
            return await tokens.verify(token, audience=audience)
        except InvalidAccessToken:
            continue
    return None


async def _live_grant(db: AsyncSession, grant_id: str | None, now: dt.datetime) -> Grant | None:
    """The token's grant, if it is still live (the verifier knows revocations, not expiry)."""
    if grant_id is None:
        return None
    try:
        grant = await db.get(Grant, uuid.UUID(grant_id))
    except ValueError:
        return None
    if grant is None or grant.revoked_at is not None or (
            grant.expires_at is not None and grant.expires_at <= now):
        return None
    return grant


async def _refresh_token(db: AsyncSession, token: str) -> RefreshToken | None:
    return await db.scalar(select(RefreshToken).where(
        RefreshToken.token_hash == refresh_token_hash(token)))


async def revoke(db: AsyncSession, tokens: AccessTokens, agent: Agent, token: str, *,
                 hint: str | None, issuer: str, now: dt.datetime | None = None) -> bool:
    """Revoke ``agent``'s own ``token``; return whether anything was revoked.

    The hint only orders the look-ups (section 2.1): a wrong hint still finds it.
    """
    now = now or utcnow()
    order = (_revoke_refresh, _revoke_access)
    if hint != REFRESH_TOKEN_HINT:
        order = (_revoke_access, _revoke_refresh)
    for attempt in order:
        if await attempt(db, tokens, agent, token, issuer, now):
            tokens.revocations.invalidate()
            return True
    return False


async def _revoke_access(db: AsyncSession, tokens: AccessTokens, agent: Agent, token: str,
                         issuer: str, now: dt.datetime) -> bool:
    claims = await verify_access_token(tokens, token, issuer)
    if claims is None or claims.client_id != agent.client_id:
        return False
    # Kept past exp (plus leeway): after that the verifier refuses the token anyway.
    expires = dt.datetime.fromtimestamp(claims.exp + tokens.leeway, tz=dt.UTC)
    db.add(Revocation(kind="jti", value=claims.jti, revoked_at=now, expires_at=expires))
    await db.flush()
    return True


async def _revoke_refresh(db: AsyncSession, tokens: AccessTokens, agent: Agent, token: str,
                          issuer: str, now: dt.datetime) -> bool:
    row = await _refresh_token(db, token)
    if row is None or row.agent_id != agent.id or row.revoked_at is not None:
        return False
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False))
    # The access tokens issued in this family carry it as ``fam``: they stop too.
    db.add(Revocation(kind="family", value=str(row.family_id), revoked_at=now,
                      expires_at=row.expires_at))
    await db.flush()
    return True


INACTIVE: dict[str, Any] = {"active": False}


async def introspect(db: AsyncSession, tokens: AccessTokens, agent: Agent, token: str, *,
                     hint: str | None, issuer: str,
                     now: dt.datetime | None = None) -> dict[str, Any]:
    """The RFC 7662 section 2.2 answer for ``agent``'s own ``token``."""
    now = now or utcnow()
    if hint == REFRESH_TOKEN_HINT:
        return await _introspect_refresh(db, tokens, agent, token, now) or \
            await _introspect_access(db, tokens, agent, token, issuer, now) or INACTIVE
    return await _introspect_access(db, tokens, agent, token, issuer, now) or \
        await _introspect_refresh(db, tokens, agent, token, now) or INACTIVE


async def _introspect_access(db: AsyncSession, tokens: AccessTokens, agent: Agent, token: str,
                             issuer: str, now: dt.datetime) -> dict[str, Any] | None:
    claims = await verify_access_token(tokens, token, issuer)
    if claims is None or claims.client_id != agent.client_id:
        return None
    grant = await _live_grant(db, claims.grant_id, now)
    if claims.grant_id is not None and grant is None:
        return None
    doc = claims.jwt_claims(issuer)
    answer: dict[str, Any] = {
        "active": True, "token_type": "Bearer",
        **{k: doc[k] for k in ("scope", "client_id", "sub", "aud", "exp", "iat", "jti", "iss")},
    }
    for optional in ("act", "grant_id", "constraints"):
        if optional in doc:
            answer[optional] = doc[optional]
    # RFC 9396 section 9.2: the details as the grant holds them now (a narrowing
    # bumped its version, so a live token's grant is the one it was minted under).
    return with_details(answer, grant.authorization_details if grant else None,
                        claims.scope)


async def _introspect_refresh(db: AsyncSession, tokens: AccessTokens, agent: Agent, token: str,
                              now: dt.datetime) -> dict[str, Any] | None:
    row = await _refresh_token(db, token)
    if (row is None or row.agent_id != agent.id or row.revoked_at is not None
            or row.used_at is not None or row.expires_at <= now):
        return None
    await tokens.revocations.refresh()
    if tokens.revocations.family_revoked(str(row.family_id)):
        return None
    grant = await _live_grant(db, str(row.grant_id), now)
    if grant is None or tokens.revocations.grant_revoked(str(grant.id), grant.version):
        return None
    answer = {"active": True, "token_type": "refresh_token", "scope": row.scope,
              "client_id": agent.client_id, "sub": str(row.user_id), "aud": row.resource,
              "exp": int(row.expires_at.timestamp()), "iat": int(row.created_at.timestamp()),
              "grant_id": str(row.grant_id)}
    return with_details(answer, grant.authorization_details, row.scope.split())


def form_value(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None
