"""The ledger: reserving against mandates atomically, and moving payments through their states.

Every function runs its own short transaction on the gateway's sessionmaker, never
the request's session: a payment's state must be on disk before the processor is
asked (so a crash leaves a row reconciliation can find) and must survive whatever
the request does afterwards.

**Why concurrent calls can't overspend.** :func:`reserve` starts its transaction
with ``UPDATE gw_payment_accounts SET reservations = reservations + 1`` for the
person. On PostgreSQL that takes the row's lock; on SQLite (a deferred BEGIN whose
first statement writes) the database's write lock. Either way the budget sum that
follows sees every reservation committed before, and no other reservation for the
person can run until this one commits. 50 concurrent calls become 50 short
transactions in a line; each sees what the ones before it spent.

**Transitions** are conditional updates (``WHERE status IN (...)``): of two
concurrent settlers (the request, a webhook, reconciliation) only one moves a
payment, and a late or replayed event finds it already moved and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.identity.models import Grant
from gateway.payments.budget import chain, spent, subtree
from gateway.payments.mandates import mandate_of
from gateway.payments.models import Payment, PaymentAccount, PaymentMethod, PaymentStatus
from services.common.db import utcnow


@dataclass(frozen=True)
class Ask:
    """What a service asked for in its 402."""

    service: str
    operation_id: str
    amount: int
    currency: str
    reference: str
    description: str


@dataclass(frozen=True)
class Payer:
    """Who pays: the person, and the grant (None: the person themself) that spends."""

    user_id: uuid.UUID
    grant_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    actor_name: str


@dataclass(frozen=True)
class Reserved:
    payment_id: uuid.UUID
    customer_id: str
    method_id: uuid.UUID
    processor_method_id: str


@dataclass(frozen=True)
class NeedsApproval:
    """Within the mandate, but above its approval threshold: the person decides."""


@dataclass(frozen=True)
class Refused:
    reason: str
    extra: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """What the mandate says about a payment, without reserving (dry-runs use it as is)."""

    outcome: str  # "would_pay" | "needs_approval" | "refused"
    reason: str | None = None
    extra: dict[str, Any] | None = None


async def _default_method(session: AsyncSession, user_id: uuid.UUID,
                          processor: str) -> PaymentMethod | None:
    return await session.scalar(
        select(PaymentMethod)
        .where(PaymentMethod.user_id == user_id, PaymentMethod.processor == processor,
               PaymentMethod.removed_at.is_(None))
        .order_by(PaymentMethod.is_default.desc(), PaymentMethod.created_at.desc())
        .limit(1))


async def _grants(session: AsyncSession, user_id: uuid.UUID) -> list[Grant]:
    """All of the person's grants: the chain above the spender and the subtrees below."""
    return list((await session.scalars(select(Grant).where(Grant.user_id == user_id))).all())


async def judge(session: AsyncSession, payer: Payer, ask: Ask, now: dt.datetime, *,
                approved: bool = False) -> Verdict:
    """Check ``ask`` against the payer's mandates and budgets, in ``session``'s transaction."""
    if payer.grant_id is None:
        return Verdict("would_pay")  # the person pays for themself: no mandate applies
    all_grants = await _grants(session, payer.user_id)
    links = [(g, mandate_of(g.authorization_details))
             for g in chain({g.id: g for g in all_grants}, payer.grant_id)]
    if not links or any(m is None for _, m in links):
        return Verdict("refused", "no_mandate")
    needs_approval = False
    for grant, mandate in links:
        assert mandate is not None
        if mandate.expired(now):
            return Verdict("refused", "mandate_expired")
        if ask.service not in mandate.services:
            return Verdict("refused", "service_not_in_mandate",
                           {"services": sorted(mandate.services)})
        if ask.currency != mandate.currency:
            return Verdict("refused", "currency_not_in_mandate",
                           {"mandate_currency": mandate.currency})
        if ask.amount > mandate.max_per_payment:
            return Verdict("refused", "over_per_payment_cap",
                           {"max_per_payment": mandate.max_per_payment})
        if mandate.budget:
            since, until = mandate.budget.window(now)
            used = await spent(session, subtree(all_grants, grant.id), mandate.currency,
                               since, until)
            left = mandate.budget.amount - used
            if ask.amount > left:
                return Verdict("refused", "budget_exhausted", {
                    "budget": mandate.budget.amount, "period": mandate.budget.period,
                    "budget_left": max(left, 0), "resets_at": until.isoformat()})
        needs_approval = needs_approval or mandate.needs_approval(ask.amount)
    if needs_approval and not approved:
        return Verdict("needs_approval")
    return Verdict("would_pay")


async def preview(sessionmaker: async_sessionmaker[AsyncSession], payer: Payer, ask: Ask,
                  processor: str, now: dt.datetime) -> Verdict:
    """What a live call would meet, reserving nothing (a dry-run of a paid call)."""
    async with sessionmaker() as session:
        verdict = await judge(session, payer, ask, now)
        if verdict.outcome != "refused" and await _default_method(
                session, payer.user_id, processor) is None:
            return Verdict("refused", "no_payment_method")
        return verdict


async def reserve(sessionmaker: async_sessionmaker[AsyncSession], payer: Payer, ask: Ask, *,
                  processor: str, request_id: str, now: dt.datetime | None = None,
                  approved: bool = False,
                  approval_id: uuid.UUID | None = None) -> Reserved | NeedsApproval | Refused:
    """Hold ``ask`` against the payer's mandates, atomically with every other reservation."""
    now = now or utcnow()
    async with sessionmaker() as session, session.begin():
        # The serialisation point (module docstring): the first statement writes.
        locked = await session.execute(
            update(PaymentAccount).where(PaymentAccount.user_id == payer.user_id)
            .values(reservations=PaymentAccount.reservations + 1))
        if locked.rowcount == 0:  # type: ignore[attr-defined]
            return Refused("no_payment_method", {})
        account = await session.get(PaymentAccount, payer.user_id)
        assert account is not None
        method = await _default_method(session, payer.user_id, processor)
        if method is None or account.processor != processor:
            return Refused("no_payment_method", {})
        verdict = await judge(session, payer, ask, now, approved=approved)
        if verdict.outcome == "refused":
            assert verdict.reason is not None
            return Refused(verdict.reason, verdict.extra or {})
        if verdict.outcome == "needs_approval":
            return NeedsApproval()
        payment = Payment(
            user_id=payer.user_id, grant_id=payer.grant_id, agent_id=payer.agent_id,
            actor_name=payer.actor_name, service=ask.service, operation_id=ask.operation_id,
            reference=ask.reference, description=ask.description, amount=ask.amount,
            currency=ask.currency, status=PaymentStatus.RESERVED, processor=processor,
            method_id=method.id, request_id=request_id, approval_id=approval_id,
            created_at=now, updated_at=now)
        session.add(payment)
        await session.flush()
        return Reserved(payment.id, account.customer_id, method.id, method.processor_method_id)


async def move(sessionmaker: async_sessionmaker[AsyncSession], payment_id: uuid.UUID,
               from_: Iterable[PaymentStatus], to: PaymentStatus | None = None,
               **values: Any) -> bool:
    """Move a payment from one of ``from_`` (to ``to``); False when it had already moved."""
    now = utcnow()
    if to is not None:
        values["status"] = to
    if to is PaymentStatus.CAPTURED:
        values.setdefault("captured_at", now)
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status.in_([s.value for s in from_]))
            .values(updated_at=now, **values))
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def get(sessionmaker: async_sessionmaker[AsyncSession],
              payment_id: uuid.UUID) -> Payment | None:
    async with sessionmaker() as session:
        return await session.get(Payment, payment_id)
