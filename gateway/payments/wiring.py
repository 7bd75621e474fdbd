"""The payments feature, assembled once per app: processor, ledger hooks, approvals, keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.payments.approvals import Approvals
from gateway.payments.hook import PaymentHook
from gateway.payments.idempotency import IdempotencyStore
from gateway.payments.processor import Processor
from gateway.payments.processors import make_processor
from gateway.payments.refunds import Refunds


@dataclass(frozen=True)
class Payments:
    sessionmaker: async_sessionmaker[AsyncSession]
    processor: Processor
    approvals: Approvals
    refunds: Refunds
    hook: PaymentHook
    idempotency: IdempotencyStore

    @classmethod
    def build(cls, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], *,
              writer: async_sessionmaker[AsyncSession] | None = None) -> Payments:
        """``sessionmaker``: the ledger's transactions, which write first (an UPDATE or an
        INSERT) or only read. ``writer``: for the simulated processor, whose transactions
        read their state and then write it (on SQLite they must begin IMMEDIATE; an
        IMMEDIATE read elsewhere would make other readers' later writes fail at once).
        """
        processor = make_processor(settings, writer or sessionmaker)
        approvals = Approvals(sessionmaker, processor, issuer=settings.issuer,
                              ttl=dt.timedelta(seconds=settings.approval_ttl_seconds))
        refunds = Refunds(sessionmaker, processor)
        hook = PaymentHook(sessionmaker, processor, issuer=settings.issuer, approvals=approvals,
                           refunds=refunds)
        # The lock outlives the slowest paid call (service timeout, then the processor's
        # timeouts and retries), so a live first attempt is never taken over.
        lock = settings.upstream_timeout + 4 * settings.stripe_timeout_seconds * (
            settings.stripe_max_network_retries + 1) + 30
        return cls(sessionmaker, processor, approvals, refunds, hook,
                   IdempotencyStore(sessionmaker, lock_seconds=lock))

    async def aclose(self) -> None:
        """Close the processor's connection pool (Stripe's httpx client), if it has one."""
        close = getattr(self.processor, "aclose", None)
        if close is not None:
            await close()
