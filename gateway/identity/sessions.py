"""Server-side web sessions and their CSRF tokens.

The cookie carries a random 256-bit token; the database stores only its SHA-256,
so a leaked table can't be replayed as cookies. Each session has its own CSRF
token (synchronizer-token pattern), required on every unsafe request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import User, WebSession
from services.common.db import utcnow

SESSION_COOKIE = "agentgate_session"
# Before login there is no session: the login form's CSRF token is double-submitted
# through this short-lived cookie instead.
PRELOGIN_CSRF_COOKIE = "agentgate_csrf"
CSRF_HEADER = "X-CSRF-Token"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


@dataclass(frozen=True)
class ActiveSession:
    user: User
    csrf_token: str
    token_hash: str
    expires_at: dt.datetime


def session_key(token: str | None) -> str | None:
    """The stored form of a cookie token (its hash), or None for a token that can't be one."""
    if not token or len(token) > 128:
        return None
    return _digest(token)


async def start_session(db: AsyncSession, user: User, *, ttl: dt.timedelta,
                        user_agent: str = "") -> tuple[str, str]:
    """Create a session; return (cookie token, CSRF token)."""
    token, csrf = new_token(), new_token()
    db.add(WebSession(token_hash=_digest(token), user_id=user.id, csrf_token=csrf,
                      expires_at=utcnow() + ttl, user_agent=user_agent[:255]))
    await db.flush()
    return token, csrf


async def find_session(db: AsyncSession, token: str | None) -> ActiveSession | None:
    """Return the live session for a cookie token, or None."""
    key = session_key(token)
    if key is None:
        return None
    row = (await db.execute(
        select(WebSession, User).join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == key)
    )).first()
    if row is None:
        return None
    session, user = row
    if session.expires_at <= utcnow():
        return None
    return ActiveSession(user=user, csrf_token=session.csrf_token, token_hash=session.token_hash,
                         expires_at=session.expires_at)


async def end_session(db: AsyncSession, token: str | None) -> None:
    if token:
        await db.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


async def end_all_sessions(db: AsyncSession, user_id: uuid.UUID) -> None:
    await db.execute(delete(WebSession).where(WebSession.user_id == user_id))
