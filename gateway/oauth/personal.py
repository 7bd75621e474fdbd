"""A person's own API tokens: long-lived RFC 9068 access tokens for their scripts.

A personal token is a Grant with no agent (``agent_id`` NULL), a label and the
scopes the person chose, and one access token for it. It is the same kind of JWT
the authorization server issues (RFC 9068 section 2.2), so the one verifier
(gateway/oauth/tokens.py) checks it: ``sub`` the person, ``client_id``
"personal", no ``act`` (no agent acts: the calls are the person's own) and
``exp`` the grant's expiry, at most 90 days away. It is never stored: the person
sees it once. It is stopped by revoking its grant, which every replica learns
within a second (gateway/oauth/revocations.py), and it is limited to its scopes
like any token. As a bearer token it never reaches people-only functions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity import grants
from gateway.identity.models import Grant
from gateway.oauth.tokens import PERSONAL_CLIENT_ID, AccessClaims, AccessTokens
from services.common.db import utcnow
from services.common.problems import Problem

MAX_LIFETIME_DAYS = 90
LIFETIME_CHOICES = (7, 30, 90)
DEFAULT_LIFETIME_DAYS = 30
MAX_LABEL = 120


class InvalidTokenRequest(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, "validation-error", detail)


@dataclass(frozen=True)
class IssuedToken:
    """A new personal token: its grant, and the token itself, which is shown only once."""

    grant: Grant
    token: str


async def create_token(db: AsyncSession, tokens: AccessTokens, user_id: uuid.UUID, *,
                       label: str, scopes: Iterable[str], known_scopes: Iterable[str],
                       days: int, audience: str, now: dt.datetime | None = None) -> IssuedToken:
    """Create a personal token: a grant with no agent, and its one access token."""
    now = now or utcnow()
    label = label.strip()
    chosen = sorted(set(scopes))
    if not label or len(label) > MAX_LABEL:
        raise InvalidTokenRequest(f"Name the token (1 to {MAX_LABEL} characters).")
    if not chosen:
        raise InvalidTokenRequest("Choose at least one thing the token may do.")
    unknown = sorted(set(chosen) - set(known_scopes))
    if unknown:
        raise InvalidTokenRequest(f"Unknown scope: {', '.join(unknown)}.")
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        raise InvalidTokenRequest(f"A token lives 1 to {MAX_LIFETIME_DAYS} days.")
    # Whole seconds: the grant's expiry and the token's exp are then exactly the same instant.
    expires_at = now.replace(microsecond=0) + dt.timedelta(days=days)
    grant = Grant(user_id=user_id, agent_id=None, scope=" ".join(chosen), constraints={},
                  resources=[audience], label=label, created_at=now, updated_at=now,
                  expires_at=expires_at)
    db.add(grant)
    await db.flush()
    claims = AccessClaims(
        sub=str(user_id), aud=audience, client_id=PERSONAL_CLIENT_ID,
        scope=frozenset(chosen), iat=int(now.timestamp()), exp=int(expires_at.timestamp()),
        grant_id=str(grant.id), gv=grant.version)
    return IssuedToken(grant, tokens.mint(claims))


async def list_tokens(db: AsyncSession, user_id: uuid.UUID, *,
                      now: dt.datetime | None = None) -> list[Grant]:
    """The person's live personal tokens (their grants), newest first."""
    now = now or utcnow()
    return list((await db.scalars(
        select(Grant).where(Grant.user_id == user_id, Grant.agent_id.is_(None),
                            Grant.revoked_at.is_(None), Grant.expires_at > now)
        .order_by(Grant.created_at.desc(), Grant.id))).all())


async def revoke_token(db: AsyncSession, user_id: uuid.UUID, grant_id: uuid.UUID) -> None:
    """Revoke one of the person's personal tokens (another's, or an agent's grant: 404)."""
    grant = await db.scalar(select(Grant).where(
        Grant.id == grant_id, Grant.user_id == user_id, Grant.agent_id.is_(None)))
    if grant is None:
        raise grants.GrantNotFound()
    await grants.revoke_grant(db, user_id, grant_id)
