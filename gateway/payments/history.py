"""What a person reads about their own money: the ledger, its refunds, the approvals waiting.

The read side of the payments feature, for the Payments and Approvals pages. Each
function opens its own short session on the feature's sessionmaker (as the ledger
does) and returns plain rows; nothing here moves a payment.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments.models import (
    Approval,
    ApprovalStatus,
    Payment,
    PaymentMethod,
    Refund,
)
from services.common.db import utcnow


async def payments_of(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID, *, limit: int = 50
) -> list[Payment]:
    """The person's most recent payments, newest first, whatever their status."""
    async with sessionmaker() as session:
        return list(
            (
                await session.scalars(
                    select(Payment)
                    .where(Payment.user_id == user_id)
                    .order_by(Payment.created_at.desc(), Payment.id)
                    .limit(limit)
                )
            ).all()
        )


async def refunds_of(
    sessionmaker: async_sessionmaker[AsyncSession], payment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Refund]]:
    """The refunds of each of ``payment_ids``, oldest first."""
    if not payment_ids:
        return {}
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(Refund).where(Refund.payment_id.in_(payment_ids)).order_by(Refund.created_at)
            )
        ).all()
    found: dict[uuid.UUID, list[Refund]] = defaultdict(list)
    for refund in rows:
        found[refund.payment_id].append(refund)
    return dict(found)


async def method_of(
    sessionmaker: async_sessionmaker[AsyncSession], payment: Payment
) -> PaymentMethod | None:
    """The card a payment was made with (kept after the person removes it)."""
    if payment.method_id is None:
        return None
    async with sessionmaker() as session:
        return await session.get(PaymentMethod, payment.method_id)


async def payment_of_approval(
    sessionmaker: async_sessionmaker[AsyncSession], approval: Approval
) -> Payment | None:
    """The payment made for an approval: held at once (authentication) or made on approval."""
    async with sessionmaker() as session:
        if approval.payment_id is not None:
            return await session.get(Payment, approval.payment_id)
        return await session.scalar(
            select(Payment)
            .where(Payment.approval_id == approval.id, Payment.user_id == approval.user_id)
            .order_by(Payment.created_at.desc())
            .limit(1)
        )


async def pending_count(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    now: dt.datetime | None = None,
) -> int:
    """How many approvals wait for the person (not yet expired), for the navigation badge."""
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Approval)
            .where(
                Approval.user_id == user_id,
                Approval.status == ApprovalStatus.PENDING.value,
                Approval.expires_at > (now or utcnow()),
            )
        )
    return int(count or 0)
