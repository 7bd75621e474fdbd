"""Reconciliation settles what a crash left in between, and leaves calls in flight alone.

Each test writes the ledger row a crash would have left, and the simulated
processor's state to match, then runs :func:`reconcile` as the restarted gateway
would, some minutes later (its ``now``). The rows are written at the real time, so
the app's own reconciler, which runs as the app starts, sees them in flight and
leaves them to the test.
"""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
import sqlalchemy as sa

from gateway.payments.models import (
    Payment,
    PaymentAccount,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from gateway.payments.processor import Intent, IntentStatus
from gateway.payments.reconcile import GRACE, Report, reconcile
from services.common.db import utcnow
from tests.gateway.payments.conftest import ALICE, app_of, ledger, payments_of, save_card

AMOUNT = 2350
RESTART = dt.timedelta(minutes=10)  # how long after the crash reconciliation runs


async def card(client: httpx.AsyncClient) -> PaymentMethod:
    """alice's saved card: the demo data's simulated Visa, or a new one."""
    mine = (sa.select(PaymentMethod)
            .where(PaymentMethod.user_id == ALICE, PaymentMethod.removed_at.is_(None))
            .order_by(PaymentMethod.is_default.desc()).limit(1))
    async with app_of(client).state.sessionmaker() as db:
        method = await db.scalar(mine)
    if method is None:
        await save_card(client)
        async with app_of(client).state.sessionmaker() as db:
            method = await db.scalar(mine)
    assert method is not None
    return method


async def authorize(client: httpx.AsyncClient, payment_id: uuid.UUID,
                    method: PaymentMethod) -> Intent:
    """What the crashed call had already done at the processor: hold the money."""
    payments = payments_of(client)
    async with payments.sessionmaker() as db:
        account = await db.get(PaymentAccount, ALICE)
    assert account is not None
    return await payments.processor.authorize(
        idempotency_key=f"agentgate-{payment_id}-authorize", customer_id=account.customer_id,
        method_id=method.processor_method_id, amount=AMOUNT, currency="EUR",
        description="A ride", metadata={"payment_id": str(payment_id)})


async def left_behind(client: httpx.AsyncClient, status: PaymentStatus, method: PaymentMethod,
                      *, payment_id: uuid.UUID | None = None, intent_id: str | None = None,
                      delivered: bool = False) -> uuid.UUID:
    """The ledger row a crash left, last touched now."""
    at = utcnow()
    payment = Payment(id=payment_id or uuid.uuid4(), user_id=ALICE, service="rides",
                      operation_id="book_trip", reference=f"quote-{uuid.uuid4()}",
                      description="A ride", amount=AMOUNT, currency="EUR", status=status,
                      processor="simulated", method_id=method.id, intent_id=intent_id,
                      delivered_at=at if delivered else None, created_at=at, updated_at=at)
    async with app_of(client).state.sessionmaker() as db, db.begin():
        db.add(payment)
    return payment.id


async def settle(client: httpx.AsyncClient, after: dt.timedelta = RESTART) -> Report:
    """Reconcile as the gateway would ``after`` the crash."""
    payments = payments_of(client)
    return await reconcile(payments.sessionmaker, payments.processor, payments.refunds,
                           now=utcnow() + after)


async def intent_of(client: httpx.AsyncClient, payment_id: uuid.UUID) -> Intent:
    [payment] = [p for p in await ledger(client) if p.id == payment_id]
    assert payment.intent_id is not None
    return await payments_of(client).processor.retrieve(payment.intent_id)


@pytest.mark.parametrize("status", [PaymentStatus.RESERVED, PaymentStatus.UNKNOWN])
async def test_a_payment_that_died_while_authorizing_is_found_by_its_key_and_voided(
        client: httpx.AsyncClient, status: PaymentStatus) -> None:
    method = await card(client)
    pid = await left_behind(client, status, method)

    report = await settle(client)

    assert report == Report(voided=[pid])
    [payment] = await ledger(client)
    assert (payment.status, payment.reason, payment.amount_captured) == (
        "voided", "reconciled", 0)
    assert (await intent_of(client, pid)).status is IntentStatus.CANCELED


async def test_a_hold_made_before_the_crash_is_found_and_released_not_made_again(
        client: httpx.AsyncClient) -> None:
    method = await card(client)
    pid = uuid.uuid4()
    held = await authorize(client, pid, method)  # the processor held it; the answer was lost
    await left_behind(client, PaymentStatus.UNKNOWN, method, payment_id=pid)

    await settle(client)

    [payment] = await ledger(client)
    assert (payment.status, payment.intent_id) == ("voided", held.id)
    assert (await intent_of(client, pid)).status is IntentStatus.CANCELED


async def test_an_authorized_payment_the_service_delivered_is_captured_once(
        client: httpx.AsyncClient) -> None:
    method = await card(client)
    pid = uuid.uuid4()
    held = await authorize(client, pid, method)
    await left_behind(client, PaymentStatus.AUTHORIZED, method, payment_id=pid,
                      intent_id=held.id, delivered=True)

    report = await settle(client)
    again = await settle(client)

    assert report == Report(captured=[pid])
    assert again == Report()
    [payment] = await ledger(client)
    assert (payment.status, payment.amount_captured) == ("captured", AMOUNT)
    intent = await intent_of(client, pid)
    assert (intent.status, intent.amount_received) == (IntentStatus.SUCCEEDED, AMOUNT)


async def test_an_authorized_payment_never_delivered_is_voided(
        client: httpx.AsyncClient) -> None:
    method = await card(client)
    pid = uuid.uuid4()
    held = await authorize(client, pid, method)
    await left_behind(client, PaymentStatus.AUTHORIZED, method, payment_id=pid,
                      intent_id=held.id)

    report = await settle(client)

    assert report == Report(voided=[pid])
    [payment] = await ledger(client)
    assert (payment.status, payment.amount_captured) == ("voided", 0)
    assert (await intent_of(client, pid)).status is IntentStatus.CANCELED


async def test_a_payment_still_in_flight_is_left_alone(client: httpx.AsyncClient) -> None:
    method = await card(client)
    reserved = await left_behind(client, PaymentStatus.RESERVED, method)
    pid = uuid.uuid4()
    held = await authorize(client, pid, method)
    await left_behind(client, PaymentStatus.AUTHORIZED, method, payment_id=pid,
                      intent_id=held.id)

    report = await settle(client, after=GRACE / 2)

    assert report == Report()
    statuses = {p.id: (p.status, p.intent_id) for p in await ledger(client)}
    assert statuses == {reserved: ("reserved", None), pid: ("authorized", held.id)}
    assert (await payments_of(client).processor.retrieve(held.id)).status is (
        IntentStatus.REQUIRES_CAPTURE)


async def test_a_pending_refund_is_asked_for_again_and_settled(
        client: httpx.AsyncClient) -> None:
    method = await card(client)
    pid = uuid.uuid4()
    held = await authorize(client, pid, method)
    await payments_of(client).processor.capture(held.id,
                                               idempotency_key=f"agentgate-{pid}-capture")
    await left_behind(client, PaymentStatus.CAPTURED, method, payment_id=pid, intent_id=held.id)
    # The refund was recorded, then the processor could not be reached.
    refund = Refund(payment_id=pid, amount=1000, currency="EUR", reason="cancel_trip")
    async with app_of(client).state.sessionmaker() as db, db.begin():
        await db.execute(sa.update(Payment).where(Payment.id == pid).values(
            amount_captured=AMOUNT, amount_refunded=1000))
        db.add(refund)

    report = await settle(client)
    again = await settle(client)

    assert (report.refunds, again.refunds) == (1, 0)
    async with app_of(client).state.sessionmaker() as db:
        stored = await db.get(Refund, refund.id)
    assert stored is not None
    assert stored.status == "succeeded"
    assert stored.processor_refund_id is not None
    assert (await intent_of(client, pid)).amount_refunded == 1000
