"""Revoked grants, refresh families and token ids, held in memory and refreshed lazily.

Access tokens are self-contained JWTs (RFC 9068), so revoking one means remembering
it until it would have expired anyway. Revocations are appended to gw_revocations
(by grant narrowing and revocation, refresh-token reuse, code replay, RFC 7009
revocation); every gateway replica reads the rows it has not seen yet, at most once
per ``interval``, just before it checks a token. So a revocation takes effect
everywhere within a second, and checking a token costs no query the rest of the time.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.identity.models import Revocation


class RevocationCache:
    """What gw_revocations says is revoked, as of at most ``interval`` seconds ago."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 interval: float = 1.0) -> None:
        self.sessions = sessions
        self.interval = interval
        self._last_id = 0
        self._polled_at = float("-inf")
        self._lock = asyncio.Lock()
        # Grants revoked whole, and grants whose versions below a minimum are revoked.
        self._grants: set[str] = set()
        self._min_versions: dict[str, int] = {}
        self._families: set[str] = set()
        self._jtis: set[str] = set()

    def invalidate(self) -> None:
        """Make the next check read the table (after this replica wrote a revocation)."""
        self._polled_at = float("-inf")

    async def refresh(self) -> None:
        """Read the rows added since the last poll, if that poll is older than ``interval``."""
        if time.monotonic() - self._polled_at < self.interval:
            return
        async with self._lock:
            # Another request may have polled while this one waited for the lock.
            if time.monotonic() - self._polled_at < self.interval:
                return
            started = time.monotonic()
            async with self.sessions() as session:
                rows = (await session.scalars(
                    select(Revocation).where(Revocation.id > self._last_id)
                    .order_by(Revocation.id))).all()
            for row in rows:
                self._add(row)
            self._polled_at = started

    def _add(self, row: Revocation) -> None:
        self._last_id = max(self._last_id, row.id)
        if row.kind == "grant":
            if row.min_version <= 0:
                self._grants.add(row.value)
            else:
                current = self._min_versions.get(row.value, 0)
                self._min_versions[row.value] = max(current, row.min_version)
        elif row.kind == "family":
            self._families.add(row.value)
        elif row.kind == "jti":
            self._jtis.add(row.value)

    def grant_revoked(self, grant_id: str, version: int) -> bool:
        """True when the grant is revoked, or was narrowed since version ``version``."""
        return grant_id in self._grants or version < self._min_versions.get(grant_id, 0)

    def family_revoked(self, family_id: str) -> bool:
        return family_id in self._families

    def jti_revoked(self, jti: str) -> bool:
        return jti in self._jtis
