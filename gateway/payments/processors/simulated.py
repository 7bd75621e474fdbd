"""The built-in simulated processor: Stripe's PaymentIntent state machine, no money.

It lets the whole payments feature run without a Stripe account, so it follows
what Stripe does closely enough that the ledger cannot tell the difference:

- the cards are Stripe's own test cards, with the behaviour Stripe documents for
  each, and only those (``simulated_cards.py``);
- intents move through Stripe's statuses
  (https://docs.stripe.com/payments/paymentintents/lifecycle), and a move from the
  wrong status is refused as Stripe refuses it (``payment_intent_unexpected_state``);
- every call that moves money honours its idempotency key
  (https://docs.stripe.com/api/idempotent_requests): the same key reaches the same
  object, the same key with other parameters is an ``idempotency_error``.

Its state lives in its own tables (``gw_sim_cards``, ``gw_sim_intents``), written in
its own short transactions, as Stripe keeps its state apart from our ledger. Each
transaction writes first (SQLite then takes its write lock before reading, and
never has to upgrade a stale snapshot), and each move is a conditional ``UPDATE
... WHERE status IN (...)``: of two concurrent captures, exactly one matches.

The idempotency key of a capture, cancel or confirm is kept as a ``gw_sim_intents``
row of kind ``"request"`` (``parent_id`` the intent, ``status`` the operation), in
the same transaction as the move it guards: its unique key is what makes a replay
find the first call's result instead of failing on the intent's new status.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments.models import SimulatedCard, SimulatedIntent
from gateway.payments.processor import (
    Card,
    CardError,
    Intent,
    IntentStatus,
    InvalidWebhook,
    ProcessorError,
    ProcessorEvent,
    RefundResult,
    SetupStart,
)
from gateway.payments.processors.simulated_cards import (
    DECLINE_MESSAGES,
    TEST_CARDS,
    check_test_card,
)
from services.common.db import utcnow

# Where each operation may start from (https://docs.stripe.com/api/payment_intents).
_CONFIRMABLE = (IntentStatus.REQUIRES_ACTION,)
_CAPTURABLE = (IntentStatus.REQUIRES_CAPTURE,)
_CANCELABLE = (
    IntentStatus.REQUIRES_PAYMENT_METHOD,
    IntentStatus.REQUIRES_ACTION,
    IntentStatus.REQUIRES_CAPTURE,
)


def _new_id(prefix: str) -> str:
    return f"{prefix}_sim_{secrets.token_hex(12)}"


def _intent(row: SimulatedIntent) -> Intent:
    decline = row.decline_code
    return Intent(
        id=row.id,
        status=IntentStatus(row.status),
        amount=row.amount,
        currency=row.currency,
        amount_capturable=row.amount_capturable,
        amount_received=row.amount_received,
        amount_refunded=row.amount_refunded,
        decline_code=decline,
        decline_message=DECLINE_MESSAGES.get(decline) if decline else None,
        metadata=dict(row.metadata_),
    )


def _idempotency_error() -> ProcessorError:
    # Stripe's idempotency_error: the key was first used with other parameters.
    return ProcessorError(
        "idempotency_error: this idempotency key was already used with other parameters",
        retryable=False,
    )


class SimulatedProcessor:
    """A processor that moves no money, keeping Stripe's rules in its own tables."""

    name = "simulated"

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessionmaker

    @property
    def simulated(self) -> bool:
        return True

    async def aclose(self) -> None:
        """Nothing to release: the sessionmaker's engine belongs to the caller."""

    async def create_customer(self, *, user_id: str, name: str, email: str) -> str:
        """Name a new customer; the simulated processor keeps nothing else about people."""
        return _new_id("cus")

    async def start_setup(self, *, customer_id: str) -> SetupStart:
        """Open a SetupIntent; without Stripe.js there is no client secret to hand out."""
        setup_id = _new_id("seti")
        async with self._sessions.begin() as session:
            session.add(
                SimulatedIntent(
                    id=setup_id,
                    kind="setup",
                    customer_id=customer_id,
                    status=IntentStatus.REQUIRES_PAYMENT_METHOD,
                )
            )
        return SetupStart(setup_intent_id=setup_id, client_secret=None)

    async def finish_setup(
        self,
        *,
        customer_id: str,
        setup_intent_id: str | None = None,
        card_number: str | None = None,
        exp_month: int | None = None,
        exp_year: int | None = None,
    ) -> Card:
        """Save a test card for the customer; CardError for a refused or invalid card."""
        try:
            digits, card, exp_month, exp_year = check_test_card(
                card_number or "", exp_month, exp_year, utcnow().date()
            )
            if card.setup_decline:
                raise CardError(DECLINE_MESSAGES[card.setup_decline], code=card.setup_decline)
        except CardError as refused:
            if setup_intent_id:
                await self._record_setup_error(setup_intent_id, customer_id, refused.code)
            raise
        method_id = _new_id("pm")
        async with self._sessions.begin() as session:
            if setup_intent_id:
                done = await session.scalar(
                    update(SimulatedIntent)
                    .where(
                        SimulatedIntent.id == setup_intent_id,
                        SimulatedIntent.kind == "setup",
                        SimulatedIntent.customer_id == customer_id,
                        SimulatedIntent.status == IntentStatus.REQUIRES_PAYMENT_METHOD,
                    )
                    .values(
                        status=IntentStatus.SUCCEEDED,
                        card_id=method_id,
                        decline_code=None,
                        version=SimulatedIntent.version + 1,
                    )
                    .returning(SimulatedIntent.id)
                )
                if done is None:
                    raise ProcessorError(
                        f"No open SetupIntent {setup_intent_id} for this customer", retryable=False
                    )
            session.add(
                SimulatedCard(
                    id=method_id,
                    customer_id=customer_id,
                    number=digits,
                    brand=card.brand,
                    last4=digits[-4:],
                    exp_month=exp_month,
                    exp_year=exp_year,
                )
            )
        return Card(
            method_id=method_id,
            brand=card.brand,
            last4=digits[-4:],
            exp_month=exp_month,
            exp_year=exp_year,
        )

    async def _record_setup_error(
        self, setup_intent_id: str, customer_id: str, code: str | None
    ) -> None:
        # Like Stripe's last_setup_error: the SetupIntent stays open for another card.
        async with self._sessions.begin() as session:
            await session.execute(
                update(SimulatedIntent)
                .where(
                    SimulatedIntent.id == setup_intent_id,
                    SimulatedIntent.kind == "setup",
                    SimulatedIntent.customer_id == customer_id,
                )
                .values(decline_code=code, version=SimulatedIntent.version + 1)
            )

    async def authorize(
        self,
        *,
        idempotency_key: str,
        customer_id: str,
        method_id: str,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
    ) -> Intent:
        """Create and confirm an off-session, manual-capture intent on a saved test card."""
        if amount <= 0:
            raise ProcessorError("amount must be a positive integer", retryable=False)
        currency = currency.lower()
        async with self._sessions() as session:
            card = await session.get(SimulatedCard, method_id)
        if card is None or card.customer_id != customer_id:
            raise ProcessorError(f"No such PaymentMethod: {method_id}", retryable=False)
        behaviour = TEST_CARDS[card.number]
        today = utcnow().date()
        values: dict[str, Any] = {
            "status": IntentStatus.REQUIRES_CAPTURE,
            "amount_capturable": amount,
        }
        if (card.exp_year, card.exp_month) < (today.year, today.month):
            values = {
                "status": IntentStatus.REQUIRES_PAYMENT_METHOD,
                "decline_code": "expired_card",
            }
        elif behaviour.charge_decline:
            values = {
                "status": IntentStatus.REQUIRES_PAYMENT_METHOD,
                "decline_code": behaviour.charge_decline,
            }
        elif behaviour.requires_authentication:
            values = {"status": IntentStatus.REQUIRES_ACTION}
        row = SimulatedIntent(
            id=_new_id("pi"),
            kind="payment",
            idempotency_key=idempotency_key,
            customer_id=customer_id,
            card_id=method_id,
            amount=amount,
            currency=currency,
            metadata_=dict(metadata),
            **values,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            # The key is taken: a retry of this same call (return what it made) or a
            # reuse of the key for another payment (refuse it, as Stripe does).
            async with self._sessions() as session:
                first = await session.scalar(
                    select(SimulatedIntent).where(
                        SimulatedIntent.idempotency_key == idempotency_key
                    )
                )
            if first is None or (
                first.kind,
                first.customer_id,
                first.card_id,
                first.amount,
                first.currency,
            ) != ("payment", customer_id, method_id, amount, currency):
                raise _idempotency_error() from None
            return _intent(first)
        return _intent(row)

    async def retrieve(self, intent_id: str) -> Intent:
        """The intent as it stands."""
        async with self._sessions() as session:
            row = await session.get(SimulatedIntent, intent_id)
        if row is None or row.kind != "payment":
            raise ProcessorError(f"No such PaymentIntent: {intent_id}", retryable=False)
        return _intent(row)

    async def confirm(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """The person authenticated: requires_action -> requires_capture."""
        return await self._move(
            intent_id,
            "confirm",
            idempotency_key,
            _CONFIRMABLE,
            status=IntentStatus.REQUIRES_CAPTURE,
            amount_capturable=SimulatedIntent.amount,
        )

    async def capture(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Capture the whole authorized amount: requires_capture -> succeeded."""
        return await self._move(
            intent_id,
            "capture",
            idempotency_key,
            _CAPTURABLE,
            status=IntentStatus.SUCCEEDED,
            amount_received=SimulatedIntent.amount_capturable,
            amount_capturable=0,
        )

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Void an intent that holds or asks for money but has not taken it."""
        return await self._move(
            intent_id,
            "cancel",
            idempotency_key,
            _CANCELABLE,
            status=IntentStatus.CANCELED,
            amount_capturable=0,
        )

    async def _move(
        self,
        intent_id: str,
        operation: str,
        idempotency_key: str,
        allowed: tuple[IntentStatus, ...],
        **values: Any,
    ) -> Intent:
        try:
            async with self._sessions.begin() as session:
                session.add(
                    SimulatedIntent(
                        id=_new_id("req"),
                        kind="request",
                        idempotency_key=idempotency_key,
                        parent_id=intent_id,
                        status=operation,
                    )
                )
                await session.flush()
                moved = await session.scalar(
                    update(SimulatedIntent)
                    .where(
                        SimulatedIntent.id == intent_id,
                        SimulatedIntent.kind == "payment",
                        SimulatedIntent.status.in_(allowed),
                    )
                    .values(version=SimulatedIntent.version + 1, **values)
                    .returning(SimulatedIntent)
                    .execution_options(synchronize_session=False)
                )
                if moved is None:
                    # Rolls the request row back too: a refused call keeps no key.
                    raise await self._unexpected_state(session, intent_id, operation)
                return _intent(moved)
        except IntegrityError:
            pass
        async with self._sessions() as session:
            first = await session.scalar(
                select(SimulatedIntent).where(SimulatedIntent.idempotency_key == idempotency_key)
            )
        if first is None or (first.kind, first.parent_id, first.status) != (
            "request",
            intent_id,
            operation,
        ):
            raise _idempotency_error()
        return await self.retrieve(intent_id)

    @staticmethod
    async def _unexpected_state(
        session: AsyncSession, intent_id: str, operation: str
    ) -> ProcessorError:
        row = await session.get(SimulatedIntent, intent_id)
        if row is None or row.kind != "payment":
            return ProcessorError(f"No such PaymentIntent: {intent_id}", retryable=False)
        # Stripe's payment_intent_unexpected_state: asking again will not help.
        return ProcessorError(
            f"payment_intent_unexpected_state: cannot {operation} a "
            f"PaymentIntent whose status is {row.status}",
            retryable=False,
        )

    async def refund(
        self, intent_id: str, *, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundResult:
        """Give back part or all of what a succeeded intent received, never more."""
        if amount <= 0:
            raise ProcessorError("amount must be a positive integer", retryable=False)
        row = SimulatedIntent(
            id=_new_id("re"),
            kind="refund",
            idempotency_key=idempotency_key,
            parent_id=intent_id,
            status="succeeded",
            amount=amount,
            metadata_=dict(metadata),
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
                await session.flush()
                # One statement checks and adds, so concurrent refunds can't over-refund.
                currency = await session.scalar(
                    update(SimulatedIntent)
                    .where(
                        SimulatedIntent.id == intent_id,
                        SimulatedIntent.kind == "payment",
                        SimulatedIntent.status == IntentStatus.SUCCEEDED,
                        SimulatedIntent.amount_refunded + amount <= SimulatedIntent.amount_received,
                    )
                    .values(
                        amount_refunded=SimulatedIntent.amount_refunded + amount,
                        version=SimulatedIntent.version + 1,
                    )
                    .returning(SimulatedIntent.currency)
                    .execution_options(synchronize_session=False)
                )
                if currency is None:
                    raise await self._refund_refused(session, intent_id, amount)
                row.currency = currency
        except IntegrityError:
            async with self._sessions() as session:
                first = await session.scalar(
                    select(SimulatedIntent).where(
                        SimulatedIntent.idempotency_key == idempotency_key
                    )
                )
            if first is None or (first.kind, first.parent_id, first.amount) != (
                "refund",
                intent_id,
                amount,
            ):
                raise _idempotency_error() from None
            return RefundResult(id=first.id, status=first.status, amount=first.amount)
        return RefundResult(id=row.id, status=row.status, amount=row.amount)

    @staticmethod
    async def _refund_refused(session: AsyncSession, intent_id: str, amount: int) -> ProcessorError:
        row = await session.get(SimulatedIntent, intent_id)
        if row is None or row.kind != "payment":
            return ProcessorError(f"No such PaymentIntent: {intent_id}", retryable=False)
        if row.status != IntentStatus.SUCCEEDED:
            return ProcessorError(
                f"payment_intent_unexpected_state: cannot refund a "
                f"PaymentIntent whose status is {row.status}",
                retryable=False,
            )
        left = row.amount_received - row.amount_refunded
        # Stripe: "Refund amount is greater than unrefunded amount on charge".
        return ProcessorError(
            f"amount_too_large: {amount} is more than the {left} left to refund", retryable=False
        )

    def parse_webhook(self, payload: bytes, signature: str | None) -> ProcessorEvent:
        """Refuse every webhook: the simulated processor sends none, so any is forged."""
        raise InvalidWebhook("the simulated processor sends no webhooks")
