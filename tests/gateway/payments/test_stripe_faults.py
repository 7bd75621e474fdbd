"""Stripe misbehaving under a paid call: never a double charge, never a lost or stuck payment.

The gateway runs with Stripe configured; respx stands in for https://api.stripe.com
(tests/support/stripe_double.py) and injects the faults: a timeout on every try, a
500, a 429, an answer lost after Stripe did the work, a capture or a cancel that
fails. Each test checks three things: what the caller was told, what the ledger
says (before and after reconciliation), and what Stripe was asked and did.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
from fastapi import FastAPI

from gateway.payments.reconcile import Report, reconcile
from tests.gateway.payments.conftest import (
    ALICE,
    MandatedAgent,
    QuoteFor,
    app_of,
    book,
    key,
    ledger,
    mandate,
    payments_of,
    trips,
)
from tests.support.stripe_double import (
    RETRIES,
    Fault,
    StripeDouble,
    card_on_file,
    stripe_api,
    stripe_gateway,
)

TRIPS = "/api/rides/trips"
TRIES = RETRIES + 1


@pytest.fixture
def stripe() -> Iterator[StripeDouble]:
    with stripe_api() as double:
        yield double


@pytest.fixture
async def gateway_app(database_url: str, monkeypatch: pytest.MonkeyPatch,
                      stripe: StripeDouble) -> AsyncIterator[FastAPI]:
    """The gateway with Stripe, and alice's card saved at Stripe."""
    async with stripe_gateway(database_url, monkeypatch) as app:
        await card_on_file(app.state.sessionmaker, ALICE)
        yield app


async def settle(client: httpx.AsyncClient) -> Report:
    """Reconcile now, with no grace: what a restart after the fault would do."""
    payments = payments_of(client)
    return await reconcile(payments.sessionmaker, payments.processor, payments.refunds,
                           grace=dt.timedelta(0))


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    problem = response.json()
    assert (problem["type"], problem["charged"]) == ("/problems/payment-unavailable", False)


# Authorizing


@pytest.mark.parametrize("faults", [
    pytest.param(("timeout",) * TRIES, id="never-reached-stripe"),
    pytest.param(("lost",) + ("timeout",) * RETRIES, id="stripe-held-it-on-the-first-try"),
    pytest.param(("500",) * TRIES, id="server-errors"),
])
async def test_an_authorization_that_may_have_happened_is_503_then_found_and_voided(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble, faults: tuple[Fault, ...]) -> None:
    agent = await mandated(mandate())
    quote_id, amount = await quote()
    stripe.fail("create", *faults)

    response = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert_unavailable(response)
    [payment] = await ledger(client)
    assert (payment.status, payment.intent_id) == ("unknown", None)
    authorize_key = f"agentgate-{payment.id}-authorize"
    assert stripe.keys("create") == [authorize_key] * TRIES  # the SDK's retries, one key
    assert await trips(client, quote_id) == []

    report = await settle(client)

    assert report.voided == [payment.id]
    intent = stripe.only_intent()  # found by the same key, or made by it: never two
    assert (intent["status"], intent["amount"]) == ("canceled", amount)
    assert stripe.keys("create") == [authorize_key] * (TRIES + 1)
    assert stripe.done == {"create": 1, "cancel": 1}
    [payment] = await ledger(client)
    assert (payment.status, payment.intent_id, payment.amount_captured) == (
        "voided", intent["id"], 0)


async def test_a_rate_limit_is_503_and_leaves_nothing_to_reconcile(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble) -> None:
    agent = await mandated(mandate())
    quote_id, _ = await quote()
    stripe.fail("create", "429")

    response = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert_unavailable(response)
    [payment] = await ledger(client)
    assert (payment.status, payment.reason) == ("failed", "processor_unavailable")
    assert len(stripe.keys("create")) == 1  # Stripe refused it before doing anything
    assert stripe.intents == {}
    assert await settle(client) == Report()
    assert stripe.intents == {}
    assert (await ledger(client))[0].status == "failed"


async def test_an_answer_lost_after_stripe_held_the_money_is_recovered_by_the_sdks_retry(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble) -> None:
    agent = await mandated(mandate())
    quote_id, amount = await quote()
    stripe.fail("create", "lost")

    response = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert response.status_code == 201, response.text
    assert response.json()["payment_receipt"]["status"] == "captured"
    [payment] = await ledger(client)
    assert stripe.keys("create") == [f"agentgate-{payment.id}-authorize"] * 2
    intent = stripe.only_intent()
    assert (payment.status, payment.intent_id, payment.amount_captured) == (
        "captured", intent["id"], amount)
    assert stripe.done == {"create": 1, "capture": 1}
    assert len(await trips(client, quote_id)) == 1


# Capturing and voiding


@pytest.mark.parametrize("faults", [
    pytest.param(("500",) * TRIES, id="server-errors"),
    pytest.param(("lost",) * TRIES, id="captured-but-every-answer-lost"),
])
async def test_a_failed_capture_still_books_and_reconciliation_captures_exactly_once(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble, faults: tuple[Fault, ...]) -> None:
    agent = await mandated(mandate())
    quote_id, amount = await quote()
    stripe.fail("capture", *faults)

    response = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    # The service delivered: the caller gets its trip, and the receipt says how it stands.
    assert response.status_code == 201, response.text
    assert response.json()["payment_receipt"]["status"] == "capture_pending"
    [payment] = await ledger(client)
    assert payment.status == "authorized"
    assert payment.delivered_at is not None
    assert len(await trips(client, quote_id)) == 1
    capture_key = f"agentgate-{payment.id}-capture"
    assert stripe.keys("capture") == [capture_key] * TRIES

    report = await settle(client)
    again = await settle(client)

    assert report.captured == [payment.id], report
    assert again == Report()
    assert set(stripe.keys("capture")) == {capture_key}
    assert stripe.done["capture"] == 1
    assert stripe.only_intent()["status"] == "succeeded"
    [payment] = await ledger(client)
    assert (payment.status, payment.amount_captured) == ("captured", amount)


async def test_a_refused_booking_whose_void_failed_is_voided_by_reconciliation(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble) -> None:
    # Two agents book the same quote at once: both are authorized, one books, the
    # rides service refuses the other (409), and Stripe fails to cancel its hold.
    quote_id, amount = await quote()
    first, second = await mandated(mandate()), await mandated(mandate(), name="Scout")
    stripe.rendezvous(2)
    stripe.fail_always("cancel", "500")
    answers: list[httpx.Response] = []

    async def booking(headers: dict[str, str]) -> None:
        answers.append(await client.post(TRIPS, **book(quote_id), headers=headers | key()))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(booking, first.headers)
        tasks.start_soon(booking, second.headers)

    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 409)
    assert "payment_receipt" not in refused.text
    payments = {p.status: p for p in await ledger(client)}
    assert set(payments) == {"captured", "authorized"}
    held = payments["authorized"]
    assert held.delivered_at is None
    assert stripe.keys("cancel") == [f"agentgate-{held.id}-cancel"] * TRIES

    stripe.heal()
    report = await settle(client)

    assert report.voided == [held.id]
    assert stripe.done == {"create": 2, "capture": 1, "cancel": 1}
    assert stripe.intents[held.intent_id]["status"] == "canceled"
    statuses = sorted((p.status, p.amount_captured) for p in await ledger(client))
    assert statuses == [("captured", amount), ("voided", 0)]
    assert len(await trips(client, quote_id)) == 1


# Retrying


async def test_retrying_the_same_key_after_a_503_books_once_and_captures_once(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble) -> None:
    agent = await mandated(mandate())
    quote_id, amount = await quote()
    same = key()
    stripe.fail("create", "lost", *("timeout",) * RETRIES)  # Stripe held it; no answer came

    failed = await client.post(TRIPS, **book(quote_id), headers=agent.headers | same)
    retried = await client.post(TRIPS, **book(quote_id), headers=agent.headers | same)
    replayed = await client.post(TRIPS, **book(quote_id), headers=agent.headers | same)

    assert_unavailable(failed)
    assert retried.status_code == 201, retried.text  # a 5xx is not kept: the call ran again
    assert "idempotent-replayed" not in retried.headers
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == retried.json()
    assert len(await trips(client, quote_id)) == 1
    assert stripe.done == {"create": 2, "capture": 1}

    await settle(client)

    assert stripe.done == {"create": 2, "capture": 1, "cancel": 1}
    statuses = sorted((p.status, p.amount_captured) for p in await ledger(client))
    assert statuses == [("captured", amount), ("voided", 0)]


# The bank wants the person


@pytest.mark.parametrize(("after_authenticating", "confirms"), [
    pytest.param("requires_confirmation", 1, id="the-gateway-confirms"),
    pytest.param("requires_capture", 0, id="stripe-js-confirmed"),
])
async def test_a_card_that_needs_authentication_waits_for_the_person_then_pays_once(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble, after_authenticating: str, confirms: int) -> None:
    agent = await mandated(mandate())
    quote_id, amount = await quote()
    stripe.outcome = "authentication_required"

    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert held.status_code == 202, held.text
    assert held.json()["reason"] == "authentication_required"
    [payment] = await ledger(client)
    intent = stripe.only_intent()
    assert (payment.status, payment.intent_id) == ("reserved", intent["id"])
    # The person authenticates with their bank in Stripe.js, on the Approvals page.
    intent.update(status=after_authenticating, last_payment_error=None)

    approval = await payments_of(client).approvals.approve(
        uuid.UUID(held.json()["id"]), ALICE, app_of(client).state.pipeline)

    assert (approval.status, approval.response_status) == ("completed", 201)
    assert stripe.keys("confirm") == [f"agentgate-{payment.id}-confirm"] * confirms
    assert stripe.done == {"create": 1, "capture": 1} | ({"confirm": 1} if confirms else {})
    [payment] = await ledger(client)
    assert (payment.status, payment.amount_captured) == ("captured", amount)
    assert len(await trips(client, quote_id)) == 1


async def test_denying_a_payment_held_for_authentication_cancels_it_at_stripe(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble) -> None:
    agent = await mandated(mandate())
    quote_id, _ = await quote()
    stripe.outcome = "authentication_required"
    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    await payments_of(client).approvals.deny(uuid.UUID(held.json()["id"]), ALICE)

    [payment] = await ledger(client)
    assert (payment.status, payment.reason) == ("voided", "not_approved")
    assert stripe.keys("cancel") == [f"agentgate-{payment.id}-cancel"]
    assert stripe.only_intent()["status"] == "canceled"
    assert await trips(client, quote_id) == []


async def test_the_approval_page_runs_the_banks_challenge_in_stripe_js_before_approving(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        stripe: StripeDouble) -> None:
    from tests.support.web import sign_in

    agent = await mandated(mandate())
    quote_id, _ = await quote()
    stripe.outcome = "authentication_required"
    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())
    intent = stripe.only_intent()
    await sign_in(client, "alice")

    page = await client.get(f"/approvals/{held.json()['id']}", headers={"Accept": "text/html"})

    assert page.status_code == 200, page.text
    assert 'id="authenticate-form"' in page.text
    assert f'data-client-secret="{intent["client_secret"]}"' in page.text
    assert 'data-payment-method="pm_' in page.text
    assert "https://js.stripe.com/v3/" in page.text
    assert "/static/approval.js" in page.text
