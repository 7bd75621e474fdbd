"""The 402 hook: a service asked for money; the gateway decides, pays, retries and settles.

    402 from the service
      -> parse the ask (amount, currency, reference, description)
      -> dry-run? judge the mandate, retry with a pretend payment, attach the verdict
      -> reserve against the mandate (atomic; gateway/payments/ledger.py)
         refused -> 402 payment-refused with a stable reason and where to fix it
         above the approval threshold -> hold the request: 202 + a link to poll
      -> authorize on the person's saved card (manual capture)
         declined -> 402 card_declined; the bank wants authentication -> hold: 202
      -> retry the call with the payment in the Txn-Token
      -> the service accepted it: capture; it refused: void
      -> the answer, with the receipt

Every processor call carries an idempotency key made from our ledger id, so the
SDK's retries, ours, and reconciliation after a crash reach the same processor
object. When the processor can't be reached the caller gets 503 and the payment
stays where reconciliation (gateway/payments/reconcile.py) will settle it; money
is never taken twice and never left held without a ledger row saying so.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments import ledger
from gateway.payments.approvals import Approvals, Held
from gateway.payments.ledger import Ask, Payer, Reserved, Verdict
from gateway.payments.mandates import money
from gateway.payments.models import Payment, PaymentStatus
from gateway.payments.processor import IntentStatus, Processor, ProcessorError
from gateway.payments.refunds import Refunds
from gateway.payments.refusals import PaymentRefused
from gateway.policy.manifest import Operation
from gateway.policy.scopes import SPEND_SCOPE
from gateway.principal import Principal
from services.common.db import utcnow
from services.common.problems import PROBLEM_JSON, Problem
from services.common.txn_token import EffectsMode
from services.common.txn_token import Payment as TxnPayment

logger = logging.getLogger("agentgate.payments")



@dataclass(frozen=True)
class Answer:
    """What the caller gets back (the pipeline turns it into an Upstream)."""

    status: int
    headers: dict[str, str]
    content: bytes


@dataclass(frozen=True)
class PaidCall:
    """One call that met a 402, with what is needed to retry it or hold it for later."""

    principal: Principal
    operation: Operation
    mode: EffectsMode
    method: str
    path: str
    query: str
    body: bytes
    headers: Mapping[str, str]
    request_id: str
    # Set when the person approved this call earlier (gateway/payments/approvals.py).
    approval: Held | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Retry = Callable[[TxnPayment], Awaitable[Answer]]


def payer_of(principal: Principal) -> Payer:
    """The person pays; the grant of the token (None for the person's own session) spends."""
    name = " via ".join(a.name or a.sub for a in principal.actors)
    is_agent = not principal.is_person
    return Payer(user_id=principal.user_id,
                 grant_id=principal.grant_id if is_agent else None,
                 agent_id=principal.agent_id if is_agent else None, actor_name=name)


def ask_of(operation: Operation, first: Answer) -> Ask:
    """Read the service's 402 body; a malformed one is the service's fault (502)."""
    try:
        doc = json.loads(first.content)
        amount, currency, reference = doc["amount"], doc["currency"], doc["reference"]
        if (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0
                or not isinstance(currency, str) or len(currency) != 3
                or not isinstance(reference, str) or not reference):
            raise ValueError(doc)
    except (ValueError, KeyError, TypeError) as exc:
        raise Problem(502, "bad-gateway", f"The {operation.service} service asked for payment "
                      "without a valid amount, currency and reference.") from exc
    return Ask(service=operation.service, operation_id=operation.operation_id, amount=amount,
               currency=currency.upper(), reference=reference,
               description=str(doc.get("description") or doc.get("detail") or "")[:500])


def _with_member(answer: Answer, name: str, value: dict[str, Any],
                 headers: dict[str, str]) -> Answer:
    """Add the gateway's ``name`` member to a JSON object answer, and ``headers``."""
    content = answer.content
    ctype = answer.headers.get("content-type", "")
    if "json" in ctype and not ctype.startswith(PROBLEM_JSON):
        try:
            doc = json.loads(content)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            doc[name] = value
            content = json.dumps(doc).encode()
    return Answer(answer.status, {**answer.headers, **headers}, content)


class PaymentHook:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], processor: Processor, *,
                 issuer: str, approvals: Approvals, refunds: Refunds) -> None:
        self.sessionmaker = sessionmaker
        self.processor = processor
        self.issuer = issuer
        self.approvals = approvals
        self.refunds = refunds

    # -- entry points -------------------------------------------------------------------

    async def handle(self, call: PaidCall, first: Answer, retry: Retry) -> Answer:
        """Answer a call whose service said 402."""
        ask = ask_of(call.operation, first)
        if call.mode == "dry-run":
            return await self._dry_run(call, ask, retry)
        if not call.principal.is_person and SPEND_SCOPE not in call.principal.scopes:
            from gateway.proxy.pipeline import insufficient_scope

            raise insufficient_scope(self.issuer, [SPEND_SCOPE],
                                     call.operation.scopes | {SPEND_SCOPE}, call.principal)
        if call.approval is not None and call.approval.payment_id is not None:
            return await self._after_authentication(call, ask, call.approval.payment_id, retry)
        payer = payer_of(call.principal)
        outcome = await ledger.reserve(
            self.sessionmaker, payer, ask, processor=self.processor.name,
            request_id=call.request_id, approved=call.approval is not None,
            approval_id=call.approval.id if call.approval else None)
        if isinstance(outcome, ledger.Refused):
            raise PaymentRefused(outcome.reason, amount=ask.amount, currency=ask.currency,
                                 issuer=self.issuer, **outcome.extra)
        if isinstance(outcome, ledger.NeedsApproval):
            return await self.approvals.hold(call, ask, payer, reason="over_threshold")
        return await self._authorize(call, ask, payer, outcome, retry)

    async def after_success(self, call: PaidCall, answer: Answer) -> Answer:
        """The refund hook: a declared refunding operation answered with a ``refund``."""
        if call.mode != "live" or not call.operation.payment.get("refunds") or not (
                200 <= answer.status < 300):
            return answer
        return await self.refunds.from_answer(call, answer)

    # -- the steps ----------------------------------------------------------------------

    async def _dry_run(self, call: PaidCall, ask: Ask, retry: Retry) -> Answer:
        if not call.principal.is_person and SPEND_SCOPE not in call.principal.scopes:
            verdict = Verdict("refused", "insufficient_scope", {"missing_scopes": [SPEND_SCOPE]})
        else:
            verdict = await ledger.preview(self.sessionmaker, payer_of(call.principal), ask,
                                           self.processor.name, utcnow())
        answer = await retry(TxnPayment(id="dry-run", amount=ask.amount, currency=ask.currency,
                                        reference=ask.reference))
        preview: dict[str, Any] = {"amount": ask.amount, "currency": ask.currency,
                                   "outcome": verdict.outcome, "reserved": False,
                                   "charged": False}
        if verdict.reason:
            preview["reason"] = verdict.reason
            preview.update(verdict.extra or {})
        return _with_member(answer, "payment_preview", preview,
                            {"payment-preview": verdict.outcome})

    async def _authorize(self, call: PaidCall, ask: Ask, payer: Payer, held: Reserved,
                         retry: Retry) -> Answer:
        pid = held.payment_id
        try:
            intent = await self.processor.authorize(
                idempotency_key=f"agentgate-{pid}-authorize", customer_id=held.customer_id,
                method_id=held.processor_method_id, amount=ask.amount, currency=ask.currency,
                description=ask.description,
                metadata={"payment_id": str(pid), "reference": ask.reference,
                          "service": ask.service})
        except ProcessorError as exc:
            await self._unreachable(pid, exc, PaymentStatus.RESERVED)
            raise self._unavailable(ask) from exc
        if intent.status is IntentStatus.REQUIRES_PAYMENT_METHOD:
            await ledger.move(self.sessionmaker, pid, [PaymentStatus.RESERVED],
                              PaymentStatus.DECLINED, intent_id=intent.id,
                              reason=(intent.decline_code or "card_declined")[:64])
            raise PaymentRefused("card_declined", amount=ask.amount, currency=ask.currency,
                                 issuer=self.issuer, decline_code=intent.decline_code)
        if intent.status is IntentStatus.REQUIRES_ACTION:
            await ledger.move(self.sessionmaker, pid, [PaymentStatus.RESERVED],
                              intent_id=intent.id)
            return await self.approvals.hold(call, ask, payer, reason="authentication_required",
                                             payment_id=pid)
        if intent.status is not IntentStatus.REQUIRES_CAPTURE:
            await self._void(pid, intent.id)
            raise self._unavailable(ask)
        await ledger.move(self.sessionmaker, pid, [PaymentStatus.RESERVED],
                          PaymentStatus.AUTHORIZED, intent_id=intent.id)
        return await self._deliver(call, ask, pid, intent.id, retry)

    async def _after_authentication(self, call: PaidCall, ask: Ask, pid: uuid.UUID,
                                    retry: Retry) -> Answer:
        """The person authenticated (approved): confirm the held intent, then deliver."""
        payment = await ledger.get(self.sessionmaker, pid)
        if payment is None or payment.intent_id is None or payment.amount != ask.amount:
            raise Problem(409, "conflict", "The held payment no longer matches this request.")
        try:
            intent = await self.processor.confirm(
                payment.intent_id, idempotency_key=f"agentgate-{pid}-confirm")
        except ProcessorError as exc:
            raise self._unavailable(ask) from exc
        if intent.status is not IntentStatus.REQUIRES_CAPTURE:
            await self._void(pid, payment.intent_id, status=PaymentStatus.DECLINED,
                             reason="authentication_failed")
            raise PaymentRefused("card_declined", amount=ask.amount, currency=ask.currency,
                                 issuer=self.issuer, decline_code="authentication_failed")
        await ledger.move(self.sessionmaker, pid, [PaymentStatus.RESERVED],
                          PaymentStatus.AUTHORIZED)
        return await self._deliver(call, ask, pid, payment.intent_id, retry)

    async def _deliver(self, call: PaidCall, ask: Ask, pid: uuid.UUID, intent_id: str,
                       retry: Retry) -> Answer:
        """Retry the call with the payment; capture if the service took it, void if not."""
        try:
            answer = await retry(TxnPayment(id=str(pid), amount=ask.amount,
                                            currency=ask.currency, reference=ask.reference))
        except BaseException:
            # The service could not be reached: nothing was delivered, so nothing is taken.
            await self._void(pid, intent_id)
            raise
        if not 200 <= answer.status < 300:
            await self._void(pid, intent_id)
            return answer
        await ledger.move(self.sessionmaker, pid, [PaymentStatus.AUTHORIZED],
                          delivered_at=utcnow())
        status = "capture_pending"
        try:
            intent = await self.processor.capture(intent_id,
                                                  idempotency_key=f"agentgate-{pid}-capture")
        except ProcessorError:
            # Delivered but not captured yet: reconciliation captures it (never twice: the
            # same idempotency key). The caller got what it paid for either way.
            logger.warning("capture of payment %s deferred to reconciliation", pid)
        else:
            if intent.status is IntentStatus.SUCCEEDED:
                await ledger.move(self.sessionmaker, pid, [PaymentStatus.AUTHORIZED],
                                  PaymentStatus.CAPTURED, amount_captured=intent.amount_received)
                status = "captured"
        receipt = {"id": str(pid), "amount": ask.amount, "currency": ask.currency,
                   "status": status, "processor": self.processor.name,
                   "simulated": self.processor.simulated,
                   "url": f"{self.issuer}/payments/{pid}"}
        answer = await self.after_success(call, answer)
        return _with_member(answer, "payment_receipt", receipt, {
            "payment-receipt": str(pid),
            "link": f'<{self.issuer}/payments/{pid}>; rel="receipt"'})

    # -- failure paths ------------------------------------------------------------------

    async def _void(self, pid: uuid.UUID, intent_id: str, *,
                    status: PaymentStatus = PaymentStatus.VOIDED,
                    reason: str | None = None) -> None:
        try:
            await self.processor.cancel(intent_id, idempotency_key=f"agentgate-{pid}-cancel")
        except ProcessorError:
            # Left authorized and undelivered: reconciliation voids it.
            logger.warning("void of payment %s deferred to reconciliation", pid)
            return
        await ledger.move(self.sessionmaker, pid,
                          [PaymentStatus.RESERVED, PaymentStatus.AUTHORIZED], status,
                          reason=reason)

    async def _unreachable(self, pid: uuid.UUID, exc: ProcessorError,
                           current: PaymentStatus) -> None:
        """Record what we know: maybe held (reconcile before anything else) or surely not."""
        if exc.maybe_applied:
            await ledger.move(self.sessionmaker, pid, [current], PaymentStatus.UNKNOWN)
        else:
            await ledger.move(self.sessionmaker, pid, [current], PaymentStatus.FAILED,
                              reason="processor_unavailable")

    def _unavailable(self, ask: Ask) -> Problem:
        price = money(ask.amount, ask.currency)
        return Problem(503, "payment-unavailable",
                       f"The payment processor could not be reached; {price} was not charged. "
                       "Try again shortly with the same Idempotency-Key.",
                       headers={"Retry-After": "5"}, charged=False)


def receipt_of(payment: Payment) -> dict[str, Any]:
    """A payment as its receipt: what, for whom, how much, where it stands."""
    return {
        "id": str(payment.id), "status": payment.status, "amount": payment.amount,
        "currency": payment.currency, "amount_captured": payment.amount_captured,
        "amount_refunded": payment.amount_refunded, "service": payment.service,
        "reference": payment.reference, "description": payment.description,
        "paid_by": payment.actor_name or "you", "reason": payment.reason,
        "processor": payment.processor, "simulated": payment.processor == "simulated",
        "created_at": payment.created_at.isoformat(),
        "captured_at": payment.captured_at.isoformat() if payment.captured_at else None,
    }

