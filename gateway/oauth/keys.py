"""Signing keys: generated on first start, stored, published as a JWKS, rotatable.

Keys live in the database so every gateway replica signs with the same keys and
services can verify any replica's tokens. A rotated key stays published for an
overlap period, so tokens already in flight keep verifying (RFC 7517 ``kid``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from joserfc.jwk import KeySet, OKPKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.oauth.models import SigningKey
from services.common.db import utcnow
from services.common.txn_token import TXN_TOKEN_ALG

# A retired key stays in the JWKS this long: longer than any token it signed lives.
ROTATION_OVERLAP = dt.timedelta(hours=1)

log = logging.getLogger(__name__)


def _new_key(purpose: str) -> tuple[str, OKPKey]:
    kid = f"{purpose}-{secrets.token_urlsafe(12)}"
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid, "use": "sig",
                                                     "alg": TXN_TOKEN_ALG})
    return kid, key


class KeyStore:
    """The gateway's signing keys for one purpose (``txn`` or ``access``)."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self.current: OKPKey | None = None
        self._published: list[dict[str, Any]] = []
        self._key_set = KeySet([])

    async def load(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Load the keys, generating the first one if there is none yet."""
        async with sessions() as session, session.begin():
            rows = await self._live_rows(session)
            if not rows:
                await self._add(session)
                rows = await self._live_rows(session)
        self._apply(rows)

    async def rotate(self, sessions: async_sessionmaker[AsyncSession]) -> str:
        """Make a new key current; the old one stays published for the overlap."""
        async with sessions() as session, session.begin():
            for row in await self._live_rows(session):
                if row.retired_at is None:
                    row.retired_at = utcnow()
            kid = await self._add(session)
            await session.flush()
            rows = await self._live_rows(session)
        self._apply(rows)
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._published)}

    def key_set(self) -> KeySet:
        """The published (public) keys, built once per load or rotation, not per token."""
        return self._key_set

    async def _add(self, session: AsyncSession) -> str:
        kid, key = _new_key(self.purpose)
        session.add(SigningKey(kid=kid, purpose=self.purpose, algorithm=TXN_TOKEN_ALG,
                               private_jwk=json.dumps(key.as_dict(private=True))))
        await session.flush()
        return kid

    async def _live_rows(self, session: AsyncSession) -> list[SigningKey]:
        cutoff = utcnow() - ROTATION_OVERLAP
        rows = (await session.scalars(
            select(SigningKey).where(SigningKey.purpose == self.purpose)
            .order_by(SigningKey.created_at)
        )).all()
        return [r for r in rows if r.retired_at is None or r.retired_at > cutoff]

    def _apply(self, rows: list[SigningKey]) -> None:
        active = [r for r in rows if r.retired_at is None]
        newest = active[-1] if active else rows[-1]
        self.current = OKPKey.import_key(json.loads(newest.private_jwk))
        self._published = [
            OKPKey.import_key(json.loads(r.private_jwk)).as_dict(private=False) for r in rows
        ]
        self._key_set = KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]


async def reload_keys(sessions: async_sessionmaker[AsyncSession], stores: Sequence[KeyStore],
                      then: Callable[[], None] = lambda: None) -> None:
    """Reload every store from the database (a key may have been rotated elsewhere)."""
    for store in stores:
        await store.load(sessions)
    then()


async def keep_keys_fresh(sessions: async_sessionmaker[AsyncSession], stores: Sequence[KeyStore],
                          *, every: float, then: Callable[[], None] = lambda: None) -> None:
    """Reload the keys every ``every`` seconds, for as long as the gateway runs.

    ``agentgate rotate-keys`` (or another replica) writes the new key to the shared
    database; each replica then signs with it within ``every`` seconds, long before
    the retired key leaves the JWKS (``ROTATION_OVERLAP``), so no token in flight
    ever meets a verifier that no longer knows its key.
    """
    while True:
        await asyncio.sleep(every)
        try:
            await reload_keys(sessions, stores, then)
        except Exception:
            # A database hiccup must not end the loop: the keys in memory stay valid.
            log.exception("reloading signing keys failed; keeping the current ones")


async def rotate_keys(sessions: async_sessionmaker[AsyncSession],
                      purposes: Sequence[str]) -> dict[str, str]:
    """Make a new key current for each purpose; return ``{purpose: new kid}``."""
    return {purpose: await KeyStore(purpose).rotate(sessions) for purpose in purposes}
