"""The device authorization grant's records (RFC 8628): start, decide, poll.

An agent without a browser asks for a device code (section 3.1/3.2), shows the
person a short user code, and polls the token endpoint (section 3.4) while the
person approves on the /device page (section 3.3). This module keeps the
DeviceCode rows; the Authlib grant (gateway/oauth/grants/device_code.py) and the
/device page call it. It flushes and never commits: the request commits.

User codes (section 6.1): 8 characters from 20 consonants (no vowels, so no
words; no digits, so no 0/O or 1/I confusion), shown as ``XXXX-XXXX``: about
34 bits, enough for a code that lives 10 minutes and can only be typed in by a
signed-in person. Input is forgiving: case, spaces and dashes are ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent
from gateway.oauth.models import DeviceCode
from services.common.db import utcnow

DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
DEVICE_CODE_TTL = dt.timedelta(minutes=10)
DEFAULT_INTERVAL = 5
# Section 3.5: each slow_down adds 5 seconds to the interval, for this and later polls.
SLOW_DOWN_STEP = 5


def hash_code(device_code: str) -> str:
    return hashlib.sha256(device_code.encode()).hexdigest()


def new_user_code() -> str:
    chars = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{chars[:4]}-{chars[4:]}"


def normalize_user_code(typed: str) -> str | None:
    """The canonical ``XXXX-XXXX`` form of what a person typed, or None if it can't be one."""
    chars = "".join(c for c in typed.upper() if c not in " -\t")
    if len(chars) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in chars):
        return None
    return f"{chars[:4]}-{chars[4:]}"


@dataclass(frozen=True)
class Started:
    """A new device authorization: the secret device code goes to the agent only."""

    device_code: str
    record: DeviceCode


async def start(db: AsyncSession, agent: Agent, *, scope: str, resource: str,
                authorization_details: list[dict[str, Any]] | None = None,
                now: dt.datetime | None = None) -> Started:
    """Create a pending device authorization for ``agent`` (section 3.2)."""
    now = now or utcnow()
    device_code = secrets.token_urlsafe(32)
    # A user-code collision among live codes is unlikely (1 in 2**34) but must not 500.
    for _ in range(5):
        user_code = new_user_code()
        taken = await db.scalar(select(DeviceCode.user_code).where(
            DeviceCode.user_code == user_code))
        if taken is None:
            break
    record = DeviceCode(device_code_hash=hash_code(device_code), user_code=user_code,
                        agent_id=agent.id, scope=scope, resource=resource,
                        authorization_details=authorization_details or [], status="pending",
                        interval=DEFAULT_INTERVAL, created_at=now,
                        expires_at=now + DEVICE_CODE_TTL)
    db.add(record)
    await db.flush()
    return Started(device_code, record)


async def find_pending(db: AsyncSession, user_code: str, *,
                       now: dt.datetime | None = None) -> tuple[DeviceCode, Agent] | None:
    """The live, undecided authorization a person typed the code of, with its agent."""
    code = normalize_user_code(user_code)
    if code is None:
        return None
    row = (await db.execute(
        select(DeviceCode, Agent).join(Agent, Agent.id == DeviceCode.agent_id)
        .where(DeviceCode.user_code == code, DeviceCode.status == "pending",
               DeviceCode.expires_at > (now or utcnow())))).first()
    return (row[0], row[1]) if row else None


async def decide(db: AsyncSession, record: DeviceCode, user_id: uuid.UUID, *,
                 grant_id: uuid.UUID | None) -> None:
    """Record the person's decision: approved with the grant made for it, or denied (None)."""
    record.user_id = user_id
    record.grant_id = grant_id
    record.status = "approved" if grant_id is not None else "denied"
    await db.flush()


PollOutcome = Literal["invalid_grant", "expired_token", "slow_down", "authorization_pending",
                      "access_denied", "approved"]


async def poll(db: AsyncSession, device_code: str, agent: Agent, *,
               now: dt.datetime | None = None) -> tuple[PollOutcome, DeviceCode | None]:
    """Answer one poll of the token endpoint (section 3.5).

    ``approved`` is returned once: the row is claimed with a conditional update, so
    two racing polls can't both redeem it; any later poll is ``invalid_grant``.
    The poll time is recorded on every answer, so the caller must commit even when
    it answers with an error (Authlib answers OAuth errors as responses, so it does).
    """
    now = now or utcnow()
    record = await db.scalar(select(DeviceCode).where(
        DeviceCode.device_code_hash == hash_code(device_code)))
    if record is None or record.agent_id != agent.id or record.status == "used":
        return "invalid_grant", None
    if record.expires_at <= now:
        return "expired_token", record
    previous, record.last_polled_at = record.last_polled_at, now
    if record.status == "denied":
        await db.flush()
        return "access_denied", record
    if record.status == "pending":
        # Slowing down is a kind of "still pending" (section 3.5): an approved code is
        # redeemed however soon it is polled.
        if previous is not None and (now - previous).total_seconds() < record.interval:
            record.interval += SLOW_DOWN_STEP
            await db.flush()
            return "slow_down", record
        await db.flush()
        return "authorization_pending", record
    await db.flush()
    claimed: CursorResult[Any] = await db.execute(  # type: ignore[assignment]
        update(DeviceCode)
        .where(DeviceCode.device_code_hash == record.device_code_hash,
               DeviceCode.status == "approved")
        .values(status="used")
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return "invalid_grant", None
    await db.refresh(record)
    return "approved", record
