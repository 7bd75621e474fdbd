"""The refund hook: a service says what goes back, the gateway pays it back.

A service never calls the processor. An operation declared ``x-payment.refunds``
(rides' cancel_trip) answers with a ``refund`` member: the payment it refers to
(an id the gateway gave it in the Txn-Token), the amount and the currency, computed
by the service's own rules (free shortly after booking, a fee later). The gateway
checks that the payment is this person's, paid to this service, and that the
refund fits in what was captured and not yet refunded; records a pending refund;
asks the processor with an idempotency key made from the refund's id; and settles
the ledger. A processor that can't be reached leaves the refund pending for
reconciliation: the service has already cancelled, so the money is owed.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments.models import Payment, PaymentStatus, Refund
from gateway.payments.processor import Processor, ProcessorError
from services.common.db import utcnow

if TYPE_CHECKING:
    from gateway.payments.hook import Answer, PaidCall

logger = logging.getLogger("agentgate.payments")


class Refunds:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession],
                 processor: Processor) -> None:
        self.sessionmaker = sessionmaker
        self.processor = processor

    async def from_answer(self, call: PaidCall, answer: Answer) -> Answer:
        """Pay back the ``refund`` a service's answer names; add the refund's receipt."""
        from gateway.payments.hook import Answer

        try:
            doc = json.loads(answer.content)
            asked = doc["refund"]
            payment_id = uuid.UUID(str(asked["payment_id"]))
            amount, currency = asked["amount"], str(asked["currency"]).upper()
        except (ValueError, KeyError, TypeError):
            return answer  # no refund in the answer: nothing to pay back
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return answer
        refund = await self._record(payment_id, call, amount, currency)
        if refund is None:
            logger.warning("the %s service asked to refund %s, which it can't",
                           call.operation.service, payment_id)
            doc["refund_receipt"] = {"status": "refused",
                                     "detail": "The payment is not refundable by this service."}
        else:
            status = await self.execute(refund.id)
            doc["refund_receipt"] = {"id": str(refund.id), "status": status,
                                     "amount": amount, "currency": currency}
        return Answer(answer.status, answer.headers, json.dumps(doc).encode())

    async def _record(self, payment_id: uuid.UUID, call: PaidCall, amount: int,
                      currency: str) -> Refund | None:
        """Check the ask and record a pending refund, atomically against other refunds."""
        async with self.sessionmaker() as session, session.begin():
            # Claim the room first (the conditional update is the lock): two concurrent
            # cancellations can never refund more than was captured.
            claimed = await session.execute(
                update(Payment)
                .where(Payment.id == payment_id, Payment.user_id == call.principal.user_id,
                       Payment.service == call.operation.service,
                       Payment.currency == currency,
                       Payment.status.in_([PaymentStatus.CAPTURED.value,
                                           PaymentStatus.AUTHORIZED.value]),
                       Payment.amount - Payment.amount_refunded >= amount)
                .values(amount_refunded=Payment.amount_refunded + amount, updated_at=utcnow()))
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return None
            refund = Refund(payment_id=payment_id, amount=amount, currency=currency,
                            reason=f"{call.operation.operation_id} by the {call.operation.service} "
                                   "service", request_id=call.request_id)
            session.add(refund)
            await session.flush()
            return refund

    async def execute(self, refund_id: uuid.UUID) -> str:
        """Ask the processor for a pending refund; return its status (pending on failure)."""
        async with self.sessionmaker() as session:
            refund = await session.get(Refund, refund_id)
            payment = await session.get(Payment, refund.payment_id) if refund else None
        if refund is None or payment is None or refund.status != "pending":
            return refund.status if refund else "missing"
        if payment.status != PaymentStatus.CAPTURED or not payment.intent_id:
            return "pending"  # capture still pending: reconciliation refunds after it
        try:
            result = await self.processor.refund(
                payment.intent_id, amount=refund.amount,
                idempotency_key=f"agentgate-refund-{refund.id}",
                metadata={"payment_id": str(payment.id), "refund_id": str(refund.id)})
        except ProcessorError:
            logger.warning("refund %s deferred to reconciliation", refund.id)
            return "pending"
        status = "succeeded" if result.status == "succeeded" else (
            "failed" if result.status in ("failed", "canceled") else "pending")
        await self.settle(refund.id, status, result.id)
        return status

    async def settle(self, refund_id: uuid.UUID, status: str,
                     processor_refund_id: str | None) -> None:
        """Record the processor's word on a refund; a failed one gives the room back."""
        async with self.sessionmaker() as session, session.begin():
            values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
            if processor_refund_id:
                values["processor_refund_id"] = processor_refund_id
            moved = await session.execute(
                update(Refund).where(Refund.id == refund_id, Refund.status == "pending")
                .values(**values))
            if moved.rowcount and status == "failed":  # type: ignore[attr-defined]
                refund = await session.get(Refund, refund_id)
                assert refund is not None
                await session.execute(
                    update(Payment).where(Payment.id == refund.payment_id)
                    .values(amount_refunded=Payment.amount_refunded - refund.amount))

    async def pending(self) -> list[uuid.UUID]:
        async with self.sessionmaker() as session:
            return list((await session.scalars(
                select(Refund.id).where(Refund.status == "pending"))).all())
