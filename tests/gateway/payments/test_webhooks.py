"""Stripe's webhooks: verified, applied once, harmless when replayed or out of order.

Each test posts a signed event to POST /payments/webhooks/stripe on a gateway with
Stripe configured, then reads the ledger. The events are Stripe's own example
Event wrapping Stripe's example PaymentIntent or Refund (tests/support/stripe_fixtures.py),
signed the way Stripe signs them (``sign_webhook``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.payments.models import Payment, PaymentStatus, ProcessorEventRecord, Refund
from services.common.db import utcnow
from tests.gateway.payments.conftest import ALICE, app_of
from tests.support.stripe_double import WEBHOOK_SECRET, card_on_file, stripe_api, stripe_gateway
from tests.support.stripe_fixtures import sign_webhook, stripe_object

WEBHOOKS = "/payments/webhooks/stripe"
INTENT = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
REFUND = "re_3MtwBwLkdIwHu7ix0Pe5OzlT"
AMOUNT = 2900


@pytest.fixture
async def gateway_app(database_url: str,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FastAPI]:
    """The gateway with Stripe configured; events come to it, it asks Stripe nothing."""
    with stripe_api() as stripe:
        async with stripe_gateway(database_url, monkeypatch) as app:
            await card_on_file(app.state.sessionmaker, ALICE)
            yield app
        assert stripe.asked == []


async def a_payment(client: httpx.AsyncClient, status: PaymentStatus, *,
                    intent_id: str | None = INTENT, captured: int = 0,
                    refunded: int = 0) -> uuid.UUID:
    """A ledger row as the 402 hook leaves it (delivered, so a capture is owed)."""
    now = utcnow()
    payment = Payment(user_id=ALICE, service="rides", operation_id="book_trip",
                      reference=f"quote-{uuid.uuid4()}", description="A ride", amount=AMOUNT,
                      currency="EUR", status=status, processor="stripe", intent_id=intent_id,
                      amount_captured=captured, amount_refunded=refunded, delivered_at=now,
                      created_at=now, updated_at=now)
    async with app_of(client).state.sessionmaker() as db, db.begin():
        db.add(payment)
    return payment.id


def intent_event(event_type: str, status: str, payment_id: uuid.UUID, *,
                 event_id: str | None = None) -> dict[str, Any]:
    intent = stripe_object(
        "payment_intent", id=INTENT, amount=AMOUNT, currency="eur", status=status,
        capture_method="manual", canceled_at=None, last_payment_error=None, next_action=None,
        amount_capturable=AMOUNT if status == "requires_capture" else 0,
        amount_received=AMOUNT if status == "succeeded" else 0,
        metadata={"payment_id": str(payment_id)})
    return event(event_type, intent, event_id=event_id)


def event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return stripe_object("event", id=event_id or f"evt_{uuid.uuid4().hex[:24]}",
                         type=event_type, created=int(time.time()), data={"object": obj})


async def deliver(client: httpx.AsyncClient, body: dict[str, Any] | bytes, *,
                  secret: str = WEBHOOK_SECRET, at: int | None = None,
                  signature: str | None = None) -> httpx.Response:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = signature if signature is not None else sign_webhook(payload, secret, at=at)
    return await client.post(WEBHOOKS, content=payload, headers={
        "content-type": "application/json", "stripe-signature": header})


async def payment_of(client: httpx.AsyncClient, payment_id: uuid.UUID) -> Payment:
    async with app_of(client).state.sessionmaker() as db:
        payment = await db.get(Payment, payment_id)
    assert payment is not None
    return payment


async def recorded_events(client: httpx.AsyncClient) -> list[str]:
    async with app_of(client).state.sessionmaker() as db:
        return list((await db.scalars(sa.select(ProcessorEventRecord.id))).all())


# Verification


@pytest.mark.parametrize("forgery", ["another secret", "a changed body", "no signature"])
async def test_an_event_without_a_valid_signature_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, forgery: str) -> None:
    pid = await a_payment(client, PaymentStatus.AUTHORIZED)
    succeeded = intent_event("payment_intent.succeeded", "succeeded", pid)
    payload = json.dumps(succeeded).encode()
    signature = sign_webhook(payload, WEBHOOK_SECRET)
    match forgery:
        case "another secret":
            signature = sign_webhook(payload, "whsec_someone_else")
        case "a changed body":
            payload = payload.replace(b'"amount": 2900', b'"amount": 1')
        case _:
            signature = ""

    response = await deliver(client, payload, signature=signature)

    assert response.status_code == 400
    assert response.json()["type"] == "/problems/bad-request"
    assert (await payment_of(client, pid)).status == "authorized"
    assert await recorded_events(client) == []


async def test_an_event_signed_more_than_five_minutes_ago_is_refused_as_a_replay(
        client: httpx.AsyncClient) -> None:
    pid = await a_payment(client, PaymentStatus.AUTHORIZED)
    succeeded = intent_event("payment_intent.succeeded", "succeeded", pid)

    stale = await deliver(client, succeeded, at=int(time.time()) - 301)
    fresh = await deliver(client, succeeded, at=int(time.time()) - 240)

    assert stale.status_code == 400
    assert "timestamp" in stale.json()["detail"].lower()
    assert fresh.status_code == 200


# Settling the ledger


async def test_a_succeeded_intent_captures_an_authorized_payment(
        client: httpx.AsyncClient) -> None:
    pid = await a_payment(client, PaymentStatus.AUTHORIZED)
    succeeded = intent_event("payment_intent.succeeded", "succeeded", pid)

    response = await deliver(client, succeeded)

    assert response.status_code == 200
    assert response.json() == {"received": True, "event": succeeded["id"], "duplicate": False}
    payment = await payment_of(client, pid)
    assert (payment.status, payment.amount_captured) == ("captured", AMOUNT)
    assert payment.captured_at is not None
    assert await recorded_events(client) == [succeeded["id"]]


async def test_a_replayed_event_is_acknowledged_and_processed_once(
        client: httpx.AsyncClient) -> None:
    pid = await a_payment(client, PaymentStatus.AUTHORIZED)
    succeeded = intent_event("payment_intent.succeeded", "succeeded", pid)
    await deliver(client, succeeded)
    before = await payment_of(client, pid)

    replayed = await deliver(client, succeeded)

    assert replayed.status_code == 200
    assert replayed.json()["duplicate"] is True
    after = await payment_of(client, pid)
    assert (after.status, after.amount_captured, after.updated_at) == (
        before.status, before.amount_captured, before.updated_at)
    assert await recorded_events(client) == [succeeded["id"]]


@pytest.mark.parametrize(("first", "late", "final"), [
    (("payment_intent.succeeded", "succeeded"), ("payment_intent.canceled", "canceled"),
     ("captured", AMOUNT)),
    (("payment_intent.canceled", "canceled"), ("payment_intent.succeeded", "succeeded"),
     ("voided", 0)),
    (("payment_intent.succeeded", "succeeded"),
     ("payment_intent.amount_capturable_updated", "requires_capture"), ("captured", AMOUNT)),
])
async def test_an_event_arriving_after_a_later_one_changes_nothing(
        client: httpx.AsyncClient, first: tuple[str, str], late: tuple[str, str],
        final: tuple[str, int]) -> None:
    pid = await a_payment(client, PaymentStatus.AUTHORIZED)
    await deliver(client, intent_event(*first, pid))

    response = await deliver(client, intent_event(*late, pid))

    assert response.status_code == 200
    payment = await payment_of(client, pid)
    assert (payment.status, payment.amount_captured) == final


async def test_an_authorization_whose_answer_was_lost_is_found_by_its_payment_id(
        client: httpx.AsyncClient) -> None:
    pid = await a_payment(client, PaymentStatus.UNKNOWN, intent_id=None)

    await deliver(client, intent_event("payment_intent.amount_capturable_updated",
                                       "requires_capture", pid))

    payment = await payment_of(client, pid)
    assert (payment.status, payment.intent_id) == ("authorized", INTENT)


async def pending_refund(client: httpx.AsyncClient, payment_id: uuid.UUID,
                         amount: int) -> uuid.UUID:
    refund = Refund(payment_id=payment_id, amount=amount, currency="EUR",
                    processor_refund_id=REFUND, reason="cancel_trip by the rides service")
    async with app_of(client).state.sessionmaker() as db, db.begin():
        db.add(refund)
    return refund.id


@pytest.mark.parametrize(("stripe_status", "settled", "left_refunded"), [
    ("succeeded", "succeeded", 1000),
    ("failed", "failed", 0),  # a failed refund gives the room back
])
async def test_a_refund_event_settles_a_pending_refund(
        client: httpx.AsyncClient, stripe_status: str, settled: str,
        left_refunded: int) -> None:
    pid = await a_payment(client, PaymentStatus.CAPTURED, captured=AMOUNT, refunded=1000)
    refund_id = await pending_refund(client, pid, 1000)
    refund = stripe_object("refund", id=REFUND, amount=1000, currency="eur",
                           payment_intent=INTENT, status=stripe_status)

    response = await deliver(client, event("refund.updated", refund))
    again = await deliver(client, event("refund.updated", refund | {"status": "succeeded"}))

    assert response.status_code == again.status_code == 200
    async with app_of(client).state.sessionmaker() as db:
        stored = await db.get(Refund, refund_id)
    assert stored is not None
    assert stored.status == settled  # settled once: a later event can't flip it
    assert (await payment_of(client, pid)).amount_refunded == left_refunded


async def test_a_charge_refunded_event_is_acknowledged_without_touching_the_payment(
        client: httpx.AsyncClient) -> None:
    pid = await a_payment(client, PaymentStatus.CAPTURED, captured=AMOUNT)
    charge = stripe_object("charge", payment_intent=INTENT, amount_refunded=AMOUNT,
                           refunded=True)

    response = await deliver(client, event("charge.refunded", charge))

    assert response.status_code == 200
    payment = await payment_of(client, pid)
    assert (payment.status, payment.amount_refunded) == ("captured", 0)


async def test_an_event_type_the_ledger_does_not_use_is_acknowledged(
        client: httpx.AsyncClient) -> None:
    customer = stripe_object("customer")

    response = await deliver(client, event("customer.created", customer))

    assert response.status_code == 200
    assert response.json()["duplicate"] is False


async def test_only_the_configured_processor_receives_webhooks(
        client: httpx.AsyncClient) -> None:
    response = await client.post("/payments/webhooks/paypal", content=b"{}")

    assert response.status_code == 404


async def test_the_simulated_processor_receives_no_webhooks(database_url: str) -> None:
    from gateway.app import create_app
    from gateway.config import Settings

    app = create_app(Settings(env="test", database_url=database_url))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://testserver") as http:
        payload = b'{"id": "evt_1", "object": "event"}'
        for name in ("stripe", "simulated"):
            response = await http.post(f"/payments/webhooks/{name}", content=payload,
                                       headers={"stripe-signature":
                                                sign_webhook(payload, WEBHOOK_SECRET)})
            assert response.status_code == 404, name
