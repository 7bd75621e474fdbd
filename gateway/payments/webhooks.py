"""Processor webhooks: verified, applied once, harmless when replayed or out of order.

The processor adapter verifies the signature and its timestamp (Stripe-Signature,
five minutes' tolerance) and reduces the event to what the ledger needs. Applying
it is a set of conditional, forward-only transitions (gateway/payments/ledger.py):
``payment_intent.succeeded`` after ``canceled`` changes nothing, an
``amount_capturable_updated`` arriving after the capture can't move a captured
payment back. The event id is recorded after it is applied, so a crash in between
makes the processor's redelivery apply it again, which is harmless; a delivery of
an id already recorded is acknowledged and skipped.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments import ledger
from gateway.payments.models import Payment, PaymentStatus, ProcessorEventRecord, Refund
from gateway.payments.processor import IntentStatus, ProcessorEvent
from gateway.payments.refunds import Refunds

BETWEEN = [PaymentStatus.RESERVED, PaymentStatus.UNKNOWN, PaymentStatus.AUTHORIZED]


async def _payment_for(session: AsyncSession, event: ProcessorEvent) -> Payment | None:
    intent = event.intent
    intent_id = intent.id if intent else event.payment_intent_id
    if intent and (pid := intent.metadata.get("payment_id")):
        try:
            found = await session.get(Payment, uuid.UUID(pid))
        except ValueError:
            found = None
        if found is not None:
            return found
    if intent_id:
        return await session.scalar(select(Payment).where(Payment.intent_id == intent_id))
    return None


async def apply(sessionmaker: async_sessionmaker[AsyncSession], refunds: Refunds,
                processor: str, event: ProcessorEvent) -> bool:
    """Apply one verified event; False when it was already processed."""
    async with sessionmaker() as session:
        if await session.get(ProcessorEventRecord, event.id) is not None:
            return False
        payment = await _payment_for(session, event)
        refund = None
        if event.refund is not None:
            refund = await session.scalar(select(Refund).where(
                Refund.processor_refund_id == event.refund.id))
    intent = event.intent
    if payment is not None and intent is not None:
        if intent.status is IntentStatus.SUCCEEDED:
            await ledger.move(sessionmaker, payment.id, BETWEEN, PaymentStatus.CAPTURED,
                              intent_id=intent.id, amount_captured=intent.amount_received)
        elif intent.status is IntentStatus.CANCELED:
            await ledger.move(sessionmaker, payment.id, BETWEEN, PaymentStatus.VOIDED,
                              intent_id=intent.id)
        elif intent.status is IntentStatus.REQUIRES_CAPTURE:
            await ledger.move(sessionmaker, payment.id,
                              [PaymentStatus.RESERVED, PaymentStatus.UNKNOWN],
                              PaymentStatus.AUTHORIZED, intent_id=intent.id)
        elif (intent.status is IntentStatus.REQUIRES_PAYMENT_METHOD
              and event.type == "payment_intent.payment_failed"):
            await ledger.move(sessionmaker, payment.id,
                              [PaymentStatus.RESERVED, PaymentStatus.UNKNOWN],
                              PaymentStatus.DECLINED, intent_id=intent.id,
                              reason=intent.decline_code or "card_declined")
    if refund is not None and event.refund is not None:
        status = event.refund.status
        if status in ("succeeded", "failed", "canceled"):
            await refunds.settle(refund.id, "succeeded" if status == "succeeded" else "failed",
                                 event.refund.id)
    try:
        async with sessionmaker() as session, session.begin():
            session.add(ProcessorEventRecord(id=event.id, processor=processor, type=event.type))
    except IntegrityError:
        return False  # a concurrent delivery of the same event recorded it first
    return True
