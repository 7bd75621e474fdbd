"""The Stripe adapter, against Stripe's HTTP API mocked with respx.

Each answer is one of Stripe's own example objects (tests/support/stripe_fixtures.py)
with the fields the story needs, and each test checks the exact request the SDK sent:
the form body and the Idempotency-Key that keeps a retry from charging twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from gateway.payments.processor import (
    Card,
    CardError,
    Intent,
    IntentStatus,
    InvalidWebhook,
    ProcessorError,
    RefundResult,
    SetupStart,
)
from gateway.payments.processors.stripe import StripeProcessor
from tests.support.stripe_fixtures import NoWaitHTTPXClient, sign_webhook, stripe_object

SECRET_KEY = "sk_test_agentgate"
WEBHOOK_SECRET = "whsec_agentgate_test"


@pytest.fixture
def stripe_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url="https://api.stripe.com", assert_all_called=False) as api:
        yield api


@pytest.fixture
async def processor() -> AsyncIterator[StripeProcessor]:
    processor = StripeProcessor(
        secret_key=SECRET_KEY,
        publishable_key="pk_test_agentgate",
        webhook_secret=WEBHOOK_SECRET,
        max_network_retries=2,
        http_client=NoWaitHTTPXClient(),
    )
    yield processor
    await processor.aclose()


def form(request: httpx.Request) -> dict[str, str]:
    """The form-encoded body the SDK sent (nested keys as Stripe spells them)."""
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def payment_intent(**overrides: Any) -> dict[str, Any]:
    """Stripe's example PaymentIntent as one of ours: manual capture, off-session, held."""
    fields: dict[str, Any] = {
        "id": "pi_1",
        "amount": 1250,
        "amount_capturable": 1250,
        "amount_received": 0,
        "currency": "usd",
        "customer": "cus_1",
        "payment_method": "pm_1",
        "capture_method": "manual",
        "client_secret": "pi_1_secret_abc",
        "status": "requires_capture",
        "last_payment_error": None,
        "next_action": None,
        "metadata": {"payment_id": "p1"},
    }
    return stripe_object("payment_intent", **(fields | overrides))


def card_error(code: str, decline_code: str | None, message: str, **intent: Any) -> dict[str, Any]:
    """Stripe's 402 body: the error, and the PaymentIntent the decline left behind."""
    error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message}
    left = payment_intent(
        status="requires_payment_method", amount_capturable=0, last_payment_error=error, **intent
    )
    return {"error": error | {"payment_intent": left}}


async def authorize(processor: StripeProcessor, key: str = "pay-p1") -> Intent:
    return await processor.authorize(
        idempotency_key=key,
        customer_id="cus_1",
        method_id="pm_1",
        amount=1250,
        currency="USD",
        description="Ride to SFO",
        metadata={"payment_id": "p1"},
    )


# Authorizing


async def test_authorize_holds_the_amount_off_session_under_our_idempotency_key(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/payment_intents").respond(200, json=payment_intent())

    intent = await authorize(processor)

    request = route.calls.last.request
    assert form(request) == {
        "amount": "1250",
        "currency": "usd",
        "customer": "cus_1",
        "payment_method": "pm_1",
        "allowed_payment_method_types[0]": "card",
        "capture_method": "manual",
        "confirm": "true",
        "off_session": "true",
        "description": "Ride to SFO",
        "metadata[payment_id]": "p1",
    }
    assert request.headers["Idempotency-Key"] == "pay-p1"
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert intent == Intent(
        id="pi_1",
        status=IntentStatus.REQUIRES_CAPTURE,
        amount=1250,
        currency="usd",
        amount_capturable=1250,
        metadata={"payment_id": "p1"},
    )


async def test_a_decline_is_an_intent_that_needs_another_card_with_its_decline_code(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    stripe_api.post("/v1/payment_intents").respond(
        402,
        json=card_error("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    )

    intent = await authorize(processor)

    assert (intent.id, intent.status) == ("pi_1", IntentStatus.REQUIRES_PAYMENT_METHOD)
    assert (intent.decline_code, intent.decline_message) == (
        "insufficient_funds",
        "Your card has insufficient funds.",
    )
    assert (intent.amount_capturable, intent.client_secret) == (0, None)


async def test_authentication_required_is_an_intent_that_needs_the_person(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    stripe_api.post("/v1/payment_intents").respond(
        402,
        json=card_error(
            "authentication_required",
            "authentication_required",
            "Your card was declined. This transaction requires authentication.",
        ),
    )

    intent = await authorize(processor)

    assert intent.status == IntentStatus.REQUIRES_ACTION
    assert (intent.client_secret, intent.decline_code) == ("pi_1_secret_abc", None)


# Faults: what may have happened at Stripe, and whether to ask again


async def test_a_timeout_is_retried_by_the_sdk_with_the_same_idempotency_key(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/payment_intents")
    route.side_effect = [
        httpx.ReadTimeout("read timed out"),
        httpx.Response(200, json=payment_intent()),
    ]

    intent = await authorize(processor)

    assert intent.status == IntentStatus.REQUIRES_CAPTURE
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys == ["pay-p1", "pay-p1"]
    assert form(route.calls[0].request) == form(route.calls[1].request)


async def test_a_timeout_on_every_try_may_have_charged_so_it_says_so(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/payment_intents").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(ProcessorError) as error:
        await authorize(processor)

    assert (error.value.retryable, error.value.maybe_applied) == (True, True)
    assert route.call_count == 3  # the first try and two retries
    assert {call.request.headers["Idempotency-Key"] for call in route.calls} == {"pay-p1"}


async def test_a_server_error_is_retried_then_reported_as_maybe_applied(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/payment_intents").respond(
        500, json={"error": {"type": "api_error", "message": "Something went wrong."}}
    )

    with pytest.raises(ProcessorError) as error:
        await authorize(processor)

    assert (error.value.retryable, error.value.maybe_applied) == (True, True)
    assert route.call_count == 3
    assert {call.request.headers["Idempotency-Key"] for call in route.calls} == {"pay-p1"}


async def test_a_rate_limit_changed_nothing_and_may_be_asked_again_later(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/payment_intents").respond(
        429,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "rate_limit",
                "message": "Too many requests.",
            }
        },
    )

    with pytest.raises(ProcessorError) as error:
        await authorize(processor)

    assert (error.value.retryable, error.value.maybe_applied) == (True, False)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (
            400,
            {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": "No such PaymentMethod: 'pm_1'",
            },
        ),
        (
            400,
            {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with.",
            },
        ),
        (401, {"type": "invalid_request_error", "message": "Invalid API Key provided."}),
    ],
)
async def test_an_invalid_request_is_not_worth_asking_again(
    processor: StripeProcessor, stripe_api: respx.MockRouter, status: int, error: dict[str, str]
) -> None:
    route = stripe_api.post("/v1/payment_intents").respond(status, json={"error": error})

    with pytest.raises(ProcessorError) as raised:
        await authorize(processor)

    assert (raised.value.retryable, raised.value.maybe_applied) == (False, False)
    assert route.call_count == 1


# Capture, cancel, refund, retrieve, confirm


async def test_capture_takes_everything_held_under_its_own_key(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/payment_intents/pi_1/capture").respond(
        200, json=payment_intent(status="succeeded", amount_capturable=0, amount_received=1250)
    )

    intent = await processor.capture("pi_1", idempotency_key="capture-p1")

    request = route.calls.last.request
    assert (request.content, request.headers["Idempotency-Key"]) == (b"", "capture-p1")
    assert (intent.status, intent.amount_received, intent.amount_capturable) == (
        IntentStatus.SUCCEEDED,
        1250,
        0,
    )


async def test_cancel_releases_the_hold_under_its_own_key(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/payment_intents/pi_1/cancel").respond(
        200, json=payment_intent(status="canceled", amount_capturable=0)
    )

    intent = await processor.cancel("pi_1", idempotency_key="void-p1")

    request = route.calls.last.request
    assert (request.content, request.headers["Idempotency-Key"]) == (b"", "void-p1")
    assert intent.status == IntentStatus.CANCELED


async def test_cancel_after_capture_is_refused_for_good(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    stripe_api.post("/v1/payment_intents/pi_1/cancel").respond(
        400,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": "You cannot cancel this PaymentIntent because it has a "
                "status of succeeded.",
            }
        },
    )

    with pytest.raises(ProcessorError) as error:
        await processor.cancel("pi_1", idempotency_key="void-p1")

    assert error.value.retryable is False


async def test_refund_asks_for_the_amount_on_the_intent_under_its_own_key(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/refunds").respond(
        200,
        json=stripe_object(
            "refund", id="re_1", amount=300, payment_intent="pi_1", status="succeeded"
        ),
    )

    refund = await processor.refund(
        "pi_1", amount=300, idempotency_key="refund-r1", metadata={"refund_id": "r1"}
    )

    request = route.calls.last.request
    assert form(request) == {"payment_intent": "pi_1", "amount": "300", "metadata[refund_id]": "r1"}
    assert request.headers["Idempotency-Key"] == "refund-r1"
    assert refund == RefundResult(id="re_1", status="succeeded", amount=300)


async def test_retrieve_reads_what_was_refunded_from_the_latest_charge(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    charge = stripe_object(
        "charge",
        id="ch_1",
        amount=1250,
        amount_captured=1250,
        amount_refunded=300,
        payment_intent="pi_1",
    )
    route = stripe_api.get("/v1/payment_intents/pi_1").respond(
        200,
        json=payment_intent(
            status="succeeded", amount_capturable=0, amount_received=1250, latest_charge=charge
        ),
    )

    intent = await processor.retrieve("pi_1")

    assert route.calls.last.request.url.params.get_list("expand[0]") == ["latest_charge"]
    assert (intent.status, intent.amount_received, intent.amount_refunded) == (
        IntentStatus.SUCCEEDED,
        1250,
        300,
    )


async def test_confirm_picks_up_an_intent_the_person_confirmed_in_stripe_js(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    stripe_api.get("/v1/payment_intents/pi_1").respond(200, json=payment_intent())
    confirm = stripe_api.post("/v1/payment_intents/pi_1/confirm")

    intent = await processor.confirm("pi_1", idempotency_key="confirm-p1")

    assert intent.status == IntentStatus.REQUIRES_CAPTURE
    assert not confirm.called


async def test_confirm_confirms_an_intent_still_waiting_for_it(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    stripe_api.get("/v1/payment_intents/pi_1").respond(
        200, json=payment_intent(status="requires_confirmation", amount_capturable=0)
    )
    confirm = stripe_api.post("/v1/payment_intents/pi_1/confirm").respond(
        200, json=payment_intent()
    )

    intent = await processor.confirm("pi_1", idempotency_key="confirm-p1")

    assert confirm.calls.last.request.headers["Idempotency-Key"] == "confirm-p1"
    assert intent.status == IntentStatus.REQUIRES_CAPTURE


# Customers and cards


async def test_a_customer_is_created_once_per_person(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/customers").respond(
        200, json=stripe_object("customer", id="cus_1", name="Alice")
    )

    customer_id = await processor.create_customer(
        user_id="u1", name="Alice", email="alice@example.com"
    )

    request = route.calls.last.request
    assert customer_id == "cus_1"
    assert form(request) == {
        "name": "Alice",
        "email": "alice@example.com",
        "metadata[user_id]": "u1",
    }
    assert request.headers["Idempotency-Key"] == "agentgate-customer-u1"


async def test_start_setup_hands_stripe_js_a_client_secret_for_off_session_use(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.post("/v1/setup_intents").respond(
        200,
        json=stripe_object(
            "setup_intent", id="seti_1", customer="cus_1", client_secret="seti_1_secret_xyz"
        ),
    )

    setup = await processor.start_setup(customer_id="cus_1")

    assert form(route.calls.last.request) == {
        "customer": "cus_1",
        "usage": "off_session",
        "allowed_payment_method_types[0]": "card",
    }
    assert setup == SetupStart("seti_1", "seti_1_secret_xyz", "pk_test_agentgate")
    assert (processor.name, processor.simulated) == ("stripe", False)


def setup_intent(**overrides: Any) -> dict[str, Any]:
    method = stripe_object("payment_method", id="pm_1", customer="cus_1")
    fields: dict[str, Any] = {
        "id": "seti_1",
        "customer": "cus_1",
        "status": "succeeded",
        "payment_method": method,
        "last_setup_error": None,
    }
    return stripe_object("setup_intent", **(fields | overrides))


async def test_finish_setup_reads_the_saved_card_from_the_confirmed_setup_intent(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    route = stripe_api.get("/v1/setup_intents/seti_1").respond(200, json=setup_intent())

    card = await processor.finish_setup(customer_id="cus_1", setup_intent_id="seti_1")

    assert route.calls.last.request.url.params.get_list("expand[0]") == ["payment_method"]
    assert card == Card(method_id="pm_1", brand="visa", last4="4242", exp_month=8, exp_year=2030)


async def test_finish_setup_refuses_a_declined_card_with_its_code(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    }
    stripe_api.get("/v1/setup_intents/seti_1").respond(
        200,
        json=setup_intent(
            status="requires_payment_method", payment_method=None, last_setup_error=error
        ),
    )

    with pytest.raises(CardError) as refused:
        await processor.finish_setup(customer_id="cus_1", setup_intent_id="seti_1")

    assert (refused.value.code, str(refused.value)) == (
        "generic_decline",
        "Your card was declined.",
    )


async def test_finish_setup_refuses_another_customers_setup_intent(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    stripe_api.get("/v1/setup_intents/seti_1").respond(200, json=setup_intent(customer="cus_2"))

    with pytest.raises(ProcessorError) as refused:
        await processor.finish_setup(customer_id="cus_1", setup_intent_id="seti_1")

    assert refused.value.retryable is False


async def test_a_card_number_never_goes_to_stripe_through_us(
    processor: StripeProcessor, stripe_api: respx.MockRouter
) -> None:
    with pytest.raises(ProcessorError):
        await processor.finish_setup(
            customer_id="cus_1", card_number="4242424242424242", exp_month=1, exp_year=2030
        )

    assert not stripe_api.calls


# Webhooks


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    return sign_webhook(payload, secret, at=at)


def event(type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        stripe_object("event", id="evt_1", type=type_, created=1700000000, data={"object": obj})
    ).encode()


async def test_a_signed_payment_intent_event_is_read_into_the_intent(
    processor: StripeProcessor,
) -> None:
    body = event(
        "payment_intent.succeeded",
        payment_intent(status="succeeded", amount_capturable=0, amount_received=1250),
    )

    parsed = processor.parse_webhook(body, sign(body))

    assert (parsed.id, parsed.type, parsed.created) == (
        "evt_1",
        "payment_intent.succeeded",
        1700000000,
    )
    assert parsed.intent is not None
    assert (parsed.intent.id, parsed.intent.status, parsed.intent.amount_received) == (
        "pi_1",
        IntentStatus.SUCCEEDED,
        1250,
    )
    assert parsed.payment_intent_id == "pi_1"
    assert parsed.raw["id"] == "evt_1"


async def test_a_payment_failed_event_carries_the_decline(processor: StripeProcessor) -> None:
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "lost_card",
        "message": "Your card was declined.",
    }
    body = event(
        "payment_intent.payment_failed",
        payment_intent(
            status="requires_payment_method", amount_capturable=0, last_payment_error=error
        ),
    )

    parsed = processor.parse_webhook(body, sign(body))

    assert parsed.intent is not None
    assert (parsed.intent.status, parsed.intent.decline_code) == (
        IntentStatus.REQUIRES_PAYMENT_METHOD,
        "lost_card",
    )


@pytest.mark.parametrize("type_", ["refund.created", "refund.updated"])
async def test_a_refund_event_is_read_into_the_refund_and_its_intent(
    processor: StripeProcessor, type_: str
) -> None:
    body = event(
        type_,
        stripe_object("refund", id="re_1", amount=300, status="succeeded", payment_intent="pi_1"),
    )

    parsed = processor.parse_webhook(body, sign(body))

    assert parsed.refund == RefundResult(id="re_1", status="succeeded", amount=300)
    assert (parsed.payment_intent_id, parsed.intent) == ("pi_1", None)


async def test_a_charge_refunded_event_names_its_intent(processor: StripeProcessor) -> None:
    body = event(
        "charge.refunded",
        stripe_object("charge", id="ch_1", payment_intent="pi_1", amount_refunded=300),
    )

    parsed = processor.parse_webhook(body, sign(body))

    assert (parsed.type, parsed.payment_intent_id) == ("charge.refunded", "pi_1")


async def test_an_event_signed_with_another_secret_is_refused(processor: StripeProcessor) -> None:
    body = event("payment_intent.succeeded", payment_intent(status="succeeded"))

    with pytest.raises(InvalidWebhook):
        processor.parse_webhook(body, sign(body, secret="whsec_someone_else"))


async def test_an_event_changed_after_signing_is_refused(processor: StripeProcessor) -> None:
    body = event("payment_intent.succeeded", payment_intent(status="succeeded"))
    signature = sign(body)

    with pytest.raises(InvalidWebhook):
        processor.parse_webhook(body.replace(b"1250", b"9999"), signature)


async def test_a_stale_timestamp_is_refused_even_when_correctly_signed(
    processor: StripeProcessor,
) -> None:
    body = event("payment_intent.succeeded", payment_intent(status="succeeded"))

    with pytest.raises(InvalidWebhook):
        processor.parse_webhook(body, sign(body, at=int(time.time()) - 301))
    assert processor.parse_webhook(body, sign(body, at=int(time.time()) - 240)).id == "evt_1"


@pytest.mark.parametrize("signature", [None, "", "garbage", "t=abc,v1=00", "t=1700000000"])
async def test_a_missing_or_unreadable_signature_is_refused(
    processor: StripeProcessor, signature: str | None
) -> None:
    body = event("payment_intent.succeeded", payment_intent(status="succeeded"))

    with pytest.raises(InvalidWebhook):
        processor.parse_webhook(body, signature)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}).encode(),
        event("payment_intent.succeeded", {"id": "pi_1", "status": "succeeded"}),
        event("payment_intent.succeeded", payment_intent(status="no_such_status")),
        event("refund.updated", {"id": "re_1"}),
    ],
)
async def test_a_correctly_signed_but_malformed_body_is_refused(
    processor: StripeProcessor, body: bytes
) -> None:
    with pytest.raises(InvalidWebhook):
        processor.parse_webhook(body, sign(body))


async def test_an_event_the_ledger_does_not_settle_on_is_read_without_an_intent(
    processor: StripeProcessor,
) -> None:
    body = json.dumps(stripe_object("event", id="evt_2")).encode()  # Stripe's plan.created

    parsed = processor.parse_webhook(body, sign(body))

    assert (parsed.id, parsed.type, parsed.intent, parsed.refund) == (
        "evt_2",
        "plan.created",
        None,
        None,
    )


async def test_without_a_webhook_secret_every_event_is_refused() -> None:
    processor = StripeProcessor(secret_key=SECRET_KEY, http_client=NoWaitHTTPXClient())
    body = event("payment_intent.succeeded", payment_intent(status="succeeded"))

    with pytest.raises(InvalidWebhook):
        processor.parse_webhook(body, sign(body))
