"""Issuing and revoking what the token endpoint hands out (RFC 6749 section 5.1).

Async functions on the request's session, called from the Authlib grants through
the bridge (server.run_async). They flush, never commit: the token request commits
at its boundary. Refresh tokens are random strings stored by SHA-256 only; each
authorization starts a family, and every rotation stays in it (RFC 9700 section
4.14.2), so one reuse can revoke them all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent, Grant, Revocation
from gateway.oauth.authorization_details import with_details
from gateway.oauth.models import RefreshToken
from services.common.db import utcnow

if TYPE_CHECKING:
    from gateway.oauth.server import GatewayAuthorizationServer


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def grant_is_live(grant: Grant | None, now: dt.datetime) -> bool:
    return grant is not None and grant.revoked_at is None and (
        grant.expires_at is None or grant.expires_at > now)


async def issue_for_grant(db: AsyncSession, server: GatewayAuthorizationServer, grant: Grant,
                          agent: Agent, *, audience: str, scope: frozenset[str],
                          family_id: uuid.UUID, with_refresh: bool) -> dict[str, Any]:
    """An access token for ``grant`` and, if asked, a refresh token in ``family_id``.

    The response repeats the grant's authorization details (RFC 9396 section 7) for
    the code, refresh and device grants alike.
    """
    claims = await server.tokens.claims_for_grant(db, grant, audience=audience, scope=scope,
                                                  family_id=str(family_id))
    token: dict[str, Any] = {
        "access_token": server.tokens.mint(claims), "token_type": "Bearer",
        "expires_in": claims.exp - claims.iat, "scope": " ".join(sorted(scope)),
    }
    if with_refresh:
        secret = secrets.token_urlsafe(32)
        db.add(RefreshToken(
            token_hash=digest(secret), family_id=family_id, grant_id=grant.id,
            agent_id=agent.id, user_id=grant.user_id, scope=" ".join(sorted(scope)),
            resource=audience,
            expires_at=utcnow() + dt.timedelta(days=server.refresh_token_days)))
        token["refresh_token"] = secret
    await db.flush()
    return with_details(token, grant.authorization_details, scope)


async def revoke_family(db: AsyncSession, family_id: uuid.UUID, *,
                        lifetime: dt.timedelta) -> None:
    """Revoke every refresh token of a family and every access token issued in it."""
    now = utcnow()
    db.add(Revocation(kind="family", value=str(family_id), revoked_at=now,
                      expires_at=now + lifetime))
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False))
    await db.flush()
