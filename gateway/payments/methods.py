"""A person's saved cards: the processor customer, SetupIntents, default card, removal.

The processor keeps the card; the gateway keeps what a person recognises it by
(brand, last four digits, expiry) and the processor's id for it. Saving a card is
two steps, as Stripe's SetupIntent flow is: :func:`start_setup` gives the page what
Stripe.js needs (or nothing, for the simulated processor's plain form), then
:func:`finish_setup` records the card once the processor says it is set up for
off-session payments.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.identity.models import User
from gateway.payments.models import PaymentAccount, PaymentMethod
from gateway.payments.processor import Processor, SetupStart
from services.common.db import WRITE_TRANSACTION, utcnow
from services.common.problems import NotFound


class MethodNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("You have no such card.")


async def ensure_account(sessionmaker: async_sessionmaker[AsyncSession], processor: Processor,
                         user_id: uuid.UUID) -> PaymentAccount:
    """The person's customer at the processor, created on first use."""
    async with sessionmaker() as session:
        account = await session.get(PaymentAccount, user_id)
        user = await session.get(User, user_id)
    if account is not None and account.processor == processor.name:
        return account
    if user is None:
        raise NotFound("No such person.")
    customer_id = await processor.create_customer(user_id=str(user_id), name=user.display_name,
                                                  email=user.email)
    async with sessionmaker() as session:
        try:
            async with session.begin():
                if account is None:
                    session.add(PaymentAccount(user_id=user_id, processor=processor.name,
                                               customer_id=customer_id))
                else:  # the processor was switched (e.g. Stripe keys added): a new customer
                    await session.execute(update(PaymentAccount).where(
                        PaymentAccount.user_id == user_id).values(
                        processor=processor.name, customer_id=customer_id))
        except IntegrityError:
            pass  # created concurrently: use that one
        found = await session.get(PaymentAccount, user_id)
        assert found is not None
        return found


async def start_setup(sessionmaker: async_sessionmaker[AsyncSession], processor: Processor,
                      user_id: uuid.UUID) -> SetupStart:
    account = await ensure_account(sessionmaker, processor, user_id)
    return await processor.start_setup(customer_id=account.customer_id)


async def finish_setup(sessionmaker: async_sessionmaker[AsyncSession], processor: Processor,
                       user_id: uuid.UUID, *, setup_intent_id: str | None = None,
                       card_number: str | None = None, exp_month: int | None = None,
                       exp_year: int | None = None) -> PaymentMethod:
    """Record a card the processor has set up; the first card becomes the default.

    Raises the processor's CardError when the card is refused.
    """
    account = await ensure_account(sessionmaker, processor, user_id)
    card = await processor.finish_setup(customer_id=account.customer_id,
                                        setup_intent_id=setup_intent_id, card_number=card_number,
                                        exp_month=exp_month, exp_year=exp_year)
    async with sessionmaker() as session, session.begin():
        await session.connection(execution_options=WRITE_TRANSACTION)  # reads, then writes
        has_default = await session.scalar(select(PaymentMethod.id).where(
            PaymentMethod.user_id == user_id, PaymentMethod.removed_at.is_(None),
            PaymentMethod.processor == processor.name, PaymentMethod.is_default.is_(True)))
        method = PaymentMethod(user_id=user_id, processor=processor.name,
                               processor_method_id=card.method_id, brand=card.brand,
                               last4=card.last4, exp_month=card.exp_month,
                               exp_year=card.exp_year, is_default=has_default is None)
        session.add(method)
    return method


async def list_methods(sessionmaker: async_sessionmaker[AsyncSession],
                       user_id: uuid.UUID) -> list[PaymentMethod]:
    async with sessionmaker() as session:
        return list((await session.scalars(
            select(PaymentMethod).where(PaymentMethod.user_id == user_id,
                                        PaymentMethod.removed_at.is_(None))
            .order_by(PaymentMethod.is_default.desc(), PaymentMethod.created_at))).all())


async def make_default(sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID,
                       method_id: uuid.UUID) -> None:
    async with sessionmaker() as session, session.begin():
        await session.connection(execution_options=WRITE_TRANSACTION)  # reads, then writes
        method = await session.get(PaymentMethod, method_id)
        if method is None or method.user_id != user_id or method.removed_at is not None:
            raise MethodNotFound
        await session.execute(update(PaymentMethod).where(PaymentMethod.user_id == user_id)
                              .values(is_default=PaymentMethod.id == method_id))


async def remove(sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID,
                 method_id: uuid.UUID) -> None:
    """Stop using a card (kept for the ledger's history); another becomes the default."""
    async with sessionmaker() as session, session.begin():
        await session.connection(execution_options=WRITE_TRANSACTION)  # reads, then writes
        method = await session.get(PaymentMethod, method_id)
        if method is None or method.user_id != user_id or method.removed_at is not None:
            raise MethodNotFound
        method.removed_at = utcnow()
        method.is_default = False
        await session.flush()
        successor = await session.scalar(select(PaymentMethod).where(
            PaymentMethod.user_id == user_id, PaymentMethod.removed_at.is_(None))
            .order_by(PaymentMethod.created_at.desc()).limit(1))
        if successor is not None:
            successor.is_default = True
