"""Reconciliation: settle what a crash, a timeout or a lost webhook left in between.

Runs when the gateway starts and then every minute, on payments older than a grace
period (so requests still in flight are left alone):

- ``reserved`` with no intent, or ``unknown``: the authorization may or may not
  have reached the processor. Asking again with the *same* idempotency key returns
  the original intent if it did (Stripe keeps keys 24 h) and creates one if it
  didn't; either way nothing was delivered, so the intent is voided at once.
- ``authorized``: captured if the service accepted the call (``delivered_at``),
  voided if not. An intent the processor already captured or cancelled (a webhook
  we missed) is recorded as such.
- refunds still ``pending``: asked again, with their own idempotency key.

Every step is idempotent at the processor and a conditional update here, so two
replicas reconciling at once, or a webhook arriving meanwhile, settle each payment
once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments import ledger
from gateway.payments.approvals import Approvals
from gateway.payments.idempotency import IdempotencyStore
from gateway.payments.models import Payment, PaymentAccount, PaymentMethod, PaymentStatus
from gateway.payments.processor import Intent, IntentStatus, Processor, ProcessorError
from gateway.payments.refunds import Refunds
from services.common.db import utcnow

logger = logging.getLogger("agentgate.payments")

GRACE = dt.timedelta(minutes=2)


@dataclass
class Report:
    captured: list[uuid.UUID] = field(default_factory=list)
    voided: list[uuid.UUID] = field(default_factory=list)
    refunds: int = 0
    left: list[uuid.UUID] = field(default_factory=list)  # the processor still unreachable


async def _in_between(session: AsyncSession, before: dt.datetime) -> list[Payment]:
    found = await session.scalars(select(Payment).where(
        Payment.updated_at < before,
        or_(Payment.status.in_([PaymentStatus.UNKNOWN.value, PaymentStatus.AUTHORIZED.value]),
            and_(Payment.status == PaymentStatus.RESERVED.value,
                 Payment.intent_id.is_(None)))))
    return list(found.all())


async def _recover_intent(sessionmaker: async_sessionmaker[AsyncSession], processor: Processor,
                          payment: Payment) -> Intent:
    """The intent of a payment whose authorization was maybe sent: the same key finds it."""
    if payment.intent_id:
        return await processor.retrieve(payment.intent_id)
    async with sessionmaker() as session:
        account = await session.get(PaymentAccount, payment.user_id)
        method = await session.get(PaymentMethod, payment.method_id) if payment.method_id else None
    if account is None or method is None:
        raise ProcessorError("no customer or card to recover the intent with", retryable=False)
    return await processor.authorize(
        idempotency_key=f"agentgate-{payment.id}-authorize", customer_id=account.customer_id,
        method_id=method.processor_method_id, amount=payment.amount, currency=payment.currency,
        description=payment.description,
        metadata={"payment_id": str(payment.id), "reference": payment.reference,
                  "service": payment.service})


async def settle_payment(sessionmaker: async_sessionmaker[AsyncSession], processor: Processor,
                         payment: Payment, report: Report) -> None:
    pid = payment.id
    between = [PaymentStatus.RESERVED, PaymentStatus.UNKNOWN, PaymentStatus.AUTHORIZED]
    intent = await _recover_intent(sessionmaker, processor, payment)
    if intent.status is IntentStatus.SUCCEEDED:
        await ledger.move(sessionmaker, pid, between, PaymentStatus.CAPTURED,
                          intent_id=intent.id, amount_captured=intent.amount_received)
        report.captured.append(pid)
        return
    if intent.status is IntentStatus.CANCELED:
        await ledger.move(sessionmaker, pid, between, PaymentStatus.VOIDED, intent_id=intent.id)
        report.voided.append(pid)
        return
    if intent.status is IntentStatus.REQUIRES_PAYMENT_METHOD:
        await ledger.move(sessionmaker, pid, between, PaymentStatus.DECLINED,
                          intent_id=intent.id, reason=intent.decline_code or "card_declined")
        return
    if (payment.status == PaymentStatus.AUTHORIZED and payment.delivered_at is not None
            and intent.status is IntentStatus.REQUIRES_CAPTURE):
        captured = await processor.capture(intent.id, idempotency_key=f"agentgate-{pid}-capture")
        await ledger.move(sessionmaker, pid, [PaymentStatus.AUTHORIZED], PaymentStatus.CAPTURED,
                          amount_captured=captured.amount_received)
        report.captured.append(pid)
        return
    await processor.cancel(intent.id, idempotency_key=f"agentgate-{pid}-cancel")
    await ledger.move(sessionmaker, pid, between, PaymentStatus.VOIDED, intent_id=intent.id,
                      reason="reconciled")
    report.voided.append(pid)


async def reconcile(sessionmaker: async_sessionmaker[AsyncSession], processor: Processor,
                    refunds: Refunds, *, grace: dt.timedelta = GRACE,
                    now: dt.datetime | None = None) -> Report:
    """Settle every payment left in between for longer than ``grace``; retry pending refunds."""
    report = Report()
    before = (now or utcnow()) - grace
    async with sessionmaker() as session:
        payments = await _in_between(session, before)
    for payment in payments:
        try:
            await settle_payment(sessionmaker, processor, payment, report)
        except ProcessorError as exc:
            logger.warning("payment %s still unsettled: %s", payment.id, exc)
            report.left.append(payment.id)
    for refund_id in await refunds.pending():
        if await refunds.execute(refund_id) != "pending":
            report.refunds += 1
    if report.captured or report.voided or report.refunds:
        logger.info("reconciled: %d captured, %d voided, %d refunds", len(report.captured),
                    len(report.voided), report.refunds)
    return report


async def keep_reconciling(sessionmaker: async_sessionmaker[AsyncSession], processor: Processor,
                           refunds: Refunds, *, every: float, idempotency: IdempotencyStore,
                           approvals: Approvals, beat: asyncio.Event | None = None) -> None:
    """The lifespan task: reconcile at start, then every ``every`` seconds, forever.

    The same beat expires approvals nobody decided (releasing their holds) and
    prunes Idempotency-Key records past their 24 hours. ``beat`` is set after each
    pass: whoever must not race the first one (a test that stores a half-finished
    payment on purpose) waits for it.
    """
    while True:
        try:
            await reconcile(sessionmaker, processor, refunds)
            await approvals.expire_due()
            await idempotency.prune(utcnow())
        except Exception:
            logger.exception("reconciliation failed; trying again later")
        if beat is not None:
            beat.set()
        await asyncio.sleep(every)
