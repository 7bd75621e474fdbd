"""How much of a mandate is spent: the one sum the budget check and the pages share.

A payment counts against its own grant's mandate and every mandate above it (a
sub-agent spends out of its parent's budget too). What counts is what is held or
taken: reserved, authorized and in-doubt payments at their amount, captured ones
at what was captured less what was refunded. Declined, failed and voided payments
count nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Grant
from gateway.payments.mandates import Mandate, mandate_of
from gateway.payments.models import Payment, PaymentStatus

HELD = (PaymentStatus.RESERVED, PaymentStatus.AUTHORIZED, PaymentStatus.UNKNOWN)

# What one ledger row counts against a budget, as SQL.
COUNTED = case(
    (Payment.status.in_([s.value for s in HELD]), Payment.amount),
    (Payment.status == PaymentStatus.CAPTURED.value,
     Payment.amount_captured - Payment.amount_refunded),
    else_=0,
)


def subtree(grants: Sequence[Grant], root_id: uuid.UUID) -> set[uuid.UUID]:
    """``root_id`` and every grant made under it (sub-agents, their sub-agents, ...)."""
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for grant in grants:
        if grant.parent_id is not None:
            children.setdefault(grant.parent_id, []).append(grant.id)
    found, todo = set(), [root_id]
    while todo:
        grant_id = todo.pop()
        if grant_id not in found:
            found.add(grant_id)
            todo.extend(children.get(grant_id, ()))
    return found


def chain(grants: Mapping[uuid.UUID, Grant], grant_id: uuid.UUID) -> list[Grant]:
    """The grant and its ancestors, nearest first."""
    out: list[Grant] = []
    current = grants.get(grant_id)
    while current is not None and len(out) < 16:
        out.append(current)
        current = grants.get(current.parent_id) if current.parent_id else None
    return out


async def spent(session: AsyncSession, grant_ids: Iterable[uuid.UUID], currency: str,
                since: dt.datetime, until: dt.datetime) -> int:
    """What payments caused under these grants count, created in [since, until)."""
    ids = list(grant_ids)
    if not ids:
        return 0
    total = await session.scalar(
        select(func.coalesce(func.sum(COUNTED), 0)).where(
            Payment.grant_id.in_(ids), Payment.currency == currency,
            Payment.created_at >= since, Payment.created_at < until))
    return int(total or 0)


async def spent_this_period(session: AsyncSession, grants: Sequence[Grant], grant: Grant,
                            now: dt.datetime) -> tuple[Mandate, int] | None:
    """A grant's mandate and what its subtree spent in the current budget period.

    ``grants`` are all of the person's grants (to find the subtree). With no budget
    the period is "ever" (the page still shows what was spent).
    """
    mandate = mandate_of(grant.authorization_details)
    if mandate is None:
        return None
    if mandate.budget:
        since, until = mandate.budget.window(now)
    else:
        since, until = dt.datetime(1970, 1, 1, tzinfo=dt.UTC), now + dt.timedelta(days=1)
    return mandate, await spent(session, subtree(grants, grant.id), mandate.currency,
                                since, until)


async def spending(session: AsyncSession, user_id: uuid.UUID,
                   now: dt.datetime) -> dict[uuid.UUID, tuple[Mandate, int]]:
    """Every mandate of the person's grants with what its subtree spent this period.

    One query for the person's grants, revoked ones included: a revoked sub-agent's
    payments still count against its parent's budget.
    """
    grants = (await session.scalars(select(Grant).where(Grant.user_id == user_id))).all()
    found: dict[uuid.UUID, tuple[Mandate, int]] = {}
    for grant in grants:
        if grant.revoked_at is None and grant.authorization_details:
            result = await spent_this_period(session, grants, grant, now)
            if result is not None:
                found[grant.id] = result
    return found
