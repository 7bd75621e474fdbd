"""Login throttling: too many failures for a username or from an address locks it out.

Failures are rows in the database, so the limit holds across gateway processes.
Counting per username stops guessing one account's password; counting per address
stops spraying one password over many accounts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import LoginFailure
from services.common.db import utcnow

# An address may fail more often than a single account: several people share NATs.
ADDRESS_FACTOR = 4


class LoginThrottle:
    def __init__(self, *, max_failures: int, window_seconds: int) -> None:
        self.max_failures = max_failures
        self.window = dt.timedelta(seconds=window_seconds)

    async def retry_after(self, db: AsyncSession, username: str, address: str) -> int | None:
        """Seconds until another try is allowed, or None if it is allowed now."""
        since = utcnow() - self.window
        by_user = select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.username == username.lower(), LoginFailure.at > since)
        by_addr = select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.address == address, LoginFailure.at > since)
        user_count, user_first = (await db.execute(by_user)).one()
        addr_count, addr_first = (await db.execute(by_addr)).one()
        blocked_since = None
        if user_count >= self.max_failures:
            blocked_since = user_first
        elif addr_count >= self.max_failures * ADDRESS_FACTOR:
            blocked_since = addr_first
        if blocked_since is None:
            return None
        first = blocked_since if blocked_since.tzinfo else blocked_since.replace(tzinfo=dt.UTC)
        return max(1, int((first + self.window - utcnow()).total_seconds()) + 1)

    async def record_failure(self, db: AsyncSession, username: str, address: str) -> None:
        db.add(LoginFailure(username=username.lower()[:254], address=address[:64]))
        await db.flush()

    async def clear(self, db: AsyncSession, username: str) -> None:
        await db.execute(delete(LoginFailure).where(LoginFailure.username == username.lower()))

    async def prune(self, db: AsyncSession) -> None:
        await db.execute(delete(LoginFailure).where(
            or_(LoginFailure.at <= utcnow() - self.window)))
