"""The simulated processor: Stripe's test cards, its state machine and its idempotency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.payments.processor import (
    Card,
    CardError,
    IntentStatus,
    InvalidWebhook,
    ProcessorError,
)
from gateway.payments.processors.simulated import SimulatedProcessor
from gateway.payments.processors.simulated_cards import luhn_valid
from services.common.db import make_engine, make_sessionmaker, utcnow

SUCCEEDS = "4242424242424242"
DECLINES_CHARGES = "4000000000000341"
NEEDS_AUTHENTICATION = "4000002760003184"
NEXT_YEAR = utcnow().year + 1


@pytest.fixture
async def processor(database_url: str) -> AsyncIterator[SimulatedProcessor]:
    engine = make_engine(database_url)
    yield SimulatedProcessor(make_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture
async def customer(processor: SimulatedProcessor) -> str:
    return await processor.create_customer(
        user_id=str(uuid.uuid4()), name="Alice", email="alice@example.com"
    )


async def save(processor: SimulatedProcessor, customer: str, number: str = SUCCEEDS) -> Card:
    setup = await processor.start_setup(customer_id=customer)
    return await processor.finish_setup(
        customer_id=customer,
        setup_intent_id=setup.setup_intent_id,
        card_number=number,
        exp_month=12,
        exp_year=NEXT_YEAR,
    )


def key() -> str:
    return f"k-{uuid.uuid4()}"


# Saving a card


async def test_it_says_it_is_simulated_and_hands_out_no_client_secret(
    processor: SimulatedProcessor, customer: str
) -> None:
    setup = await processor.start_setup(customer_id=customer)

    assert (processor.name, processor.simulated) == ("simulated", True)
    assert customer.startswith("cus_sim_")
    assert setup.setup_intent_id.startswith("seti_sim_")
    assert (setup.client_secret, setup.publishable_key) == (None, None)


@pytest.mark.parametrize(
    ("number", "brand"), [("4242 4242 4242 4242", "visa"), ("5555555555554444", "mastercard")]
)
async def test_a_success_test_card_is_saved_as_the_person_recognises_it(
    processor: SimulatedProcessor, customer: str, number: str, brand: str
) -> None:
    card = await save(processor, customer, number)

    assert card.method_id.startswith("pm_sim_")
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == (
        brand,
        number[-4:],
        12,
        NEXT_YEAR,
    )


async def test_a_setup_intent_saves_one_card_only(
    processor: SimulatedProcessor, customer: str
) -> None:
    setup = await processor.start_setup(customer_id=customer)
    await processor.finish_setup(
        customer_id=customer,
        setup_intent_id=setup.setup_intent_id,
        card_number=SUCCEEDS,
        exp_month=1,
        exp_year=NEXT_YEAR,
    )

    with pytest.raises(ProcessorError) as again:
        await processor.finish_setup(
            customer_id=customer,
            setup_intent_id=setup.setup_intent_id,
            card_number=SUCCEEDS,
            exp_month=1,
            exp_year=NEXT_YEAR,
        )
    assert again.value.retryable is False


@pytest.mark.parametrize(
    ("number", "code"),
    [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")],
)
async def test_a_declining_test_card_is_refused_when_saved(
    processor: SimulatedProcessor, customer: str, number: str, code: str
) -> None:
    with pytest.raises(CardError) as refused:
        await save(processor, customer, number)

    assert refused.value.code == code


async def test_a_real_card_number_is_refused_saying_only_test_cards_are_accepted(
    processor: SimulatedProcessor, customer: str
) -> None:
    real_looking = "4539578763621486"
    assert luhn_valid(real_looking)

    with pytest.raises(CardError) as refused:
        await save(processor, customer, real_looking)

    assert refused.value.code == "invalid_number"
    assert "test cards" in str(refused.value)


async def test_a_mistyped_number_fails_the_check_digit(
    processor: SimulatedProcessor, customer: str
) -> None:
    with pytest.raises(CardError) as refused:
        await save(processor, customer, "4242424242424241")

    assert refused.value.code == "incorrect_number"


@pytest.mark.parametrize(
    ("month", "year", "code"),
    [
        (13, NEXT_YEAR, "invalid_expiry_month"),
        (0, NEXT_YEAR, "invalid_expiry_month"),
        (12, utcnow().year - 1, "invalid_expiry_year"),
    ],
)
async def test_an_impossible_or_past_expiry_is_refused(
    processor: SimulatedProcessor, customer: str, month: int, year: int, code: str
) -> None:
    with pytest.raises(CardError) as refused:
        await processor.finish_setup(
            customer_id=customer, card_number=SUCCEEDS, exp_month=month, exp_year=year
        )

    assert refused.value.code == code


# Authorizing, the way each test card answers


async def test_a_success_card_is_authorized_and_held_for_capture(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)

    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="USD",
        description="Ride to SFO",
        metadata={"payment_id": "p1"},
    )

    assert intent.id.startswith("pi_sim_")
    assert (intent.status, intent.amount, intent.amount_capturable, intent.currency) == (
        IntentStatus.REQUIRES_CAPTURE,
        1250,
        1250,
        "usd",
    )
    assert (intent.amount_received, intent.decline_code, intent.metadata) == (
        0,
        None,
        {"payment_id": "p1"},
    )
    assert await processor.retrieve(intent.id) == intent


async def test_the_always_declining_card_is_saved_but_every_charge_declines(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer, DECLINES_CHARGES)

    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=500,
        currency="usd",
        description="",
        metadata={},
    )

    assert intent.status == IntentStatus.REQUIRES_PAYMENT_METHOD
    assert (intent.decline_code, intent.decline_message) == (
        "card_declined",
        "Your card was declined.",
    )
    assert intent.amount_capturable == 0


async def test_the_authentication_card_needs_the_person_then_confirms_and_captures(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer, NEEDS_AUTHENTICATION)
    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=900,
        currency="eur",
        description="",
        metadata={},
    )
    assert (intent.status, intent.amount_capturable) == (IntentStatus.REQUIRES_ACTION, 0)

    confirmed = await processor.confirm(intent.id, idempotency_key=key())
    captured = await processor.capture(intent.id, idempotency_key=key())

    assert (confirmed.status, confirmed.amount_capturable) == (IntentStatus.REQUIRES_CAPTURE, 900)
    assert (captured.status, captured.amount_received, captured.amount_capturable) == (
        IntentStatus.SUCCEEDED,
        900,
        0,
    )


async def test_a_card_of_another_customer_cannot_be_charged(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)

    with pytest.raises(ProcessorError) as refused:
        await processor.authorize(
            idempotency_key=key(),
            customer_id="cus_sim_someone_else",
            method_id=card.method_id,
            amount=100,
            currency="usd",
            description="",
            metadata={},
        )
    assert refused.value.retryable is False


# The state machine


async def test_capture_takes_the_whole_held_amount(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )

    captured = await processor.capture(intent.id, idempotency_key=key())

    assert (captured.status, captured.amount_received, captured.amount_capturable) == (
        IntentStatus.SUCCEEDED,
        1250,
        0,
    )


@pytest.mark.parametrize("number", [SUCCEEDS, NEEDS_AUTHENTICATION, DECLINES_CHARGES])
async def test_an_intent_not_captured_can_be_canceled(
    processor: SimulatedProcessor, customer: str, number: str
) -> None:
    card = await save(processor, customer, number)
    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=700,
        currency="usd",
        description="",
        metadata={},
    )

    canceled = await processor.cancel(intent.id, idempotency_key=key())

    assert (canceled.status, canceled.amount_capturable) == (IntentStatus.CANCELED, 0)


@pytest.mark.parametrize(
    ("number", "moves", "refused"),
    [
        (NEEDS_AUTHENTICATION, [], "capture"),  # not authenticated yet
        (DECLINES_CHARGES, [], "capture"),  # declined: nothing is held
        (SUCCEEDS, [], "confirm"),  # nothing to authenticate
        (SUCCEEDS, ["capture"], "cancel"),  # the money moved: refund instead
        (SUCCEEDS, ["capture"], "capture"),  # captured once only
        (SUCCEEDS, ["cancel"], "capture"),  # voided
        (SUCCEEDS, ["cancel"], "confirm"),
    ],
)
async def test_a_move_from_the_wrong_status_is_refused_and_changes_nothing(
    processor: SimulatedProcessor, customer: str, number: str, moves: list[str], refused: str
) -> None:
    card = await save(processor, customer, number)
    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=700,
        currency="usd",
        description="",
        metadata={},
    )
    for move in moves:
        await getattr(processor, move)(intent.id, idempotency_key=key())
    before = await processor.retrieve(intent.id)

    with pytest.raises(ProcessorError) as error:
        await getattr(processor, refused)(intent.id, idempotency_key=key())

    assert error.value.retryable is False
    assert "payment_intent_unexpected_state" in str(error.value)
    assert await processor.retrieve(intent.id) == before


async def test_an_unknown_intent_is_not_found(processor: SimulatedProcessor) -> None:
    with pytest.raises(ProcessorError) as missing:
        await processor.capture("pi_sim_nope", idempotency_key=key())
    assert missing.value.retryable is False
    with pytest.raises(ProcessorError):
        await processor.retrieve("pi_sim_nope")


# Idempotency


async def test_the_same_key_reaches_the_same_intent(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    first = await processor.authorize(
        idempotency_key="pay-1",
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )

    again = await processor.authorize(
        idempotency_key="pay-1",
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )

    assert again == first


async def test_the_same_key_with_another_amount_is_an_idempotency_error(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    await processor.authorize(
        idempotency_key="pay-1",
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )

    with pytest.raises(ProcessorError) as error:
        await processor.authorize(
            idempotency_key="pay-1",
            customer_id=customer,
            method_id=card.method_id,
            amount=9999,
            currency="usd",
            description="",
            metadata={},
        )

    assert error.value.retryable is False
    assert "idempotency_error" in str(error.value)


async def test_concurrent_calls_with_one_key_make_one_intent(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)

    intents = await asyncio.gather(
        *(
            processor.authorize(
                idempotency_key="pay-1",
                customer_id=customer,
                method_id=card.method_id,
                amount=1250,
                currency="usd",
                description="",
                metadata={},
            )
            for _ in range(5)
        )
    )

    assert len({intent.id for intent in intents}) == 1


async def test_a_repeated_capture_with_its_key_replays_instead_of_failing(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    intent = await processor.authorize(
        idempotency_key="pay-1",
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )
    first = await processor.capture(intent.id, idempotency_key="capture-1")

    again = await processor.capture(intent.id, idempotency_key="capture-1")

    assert again == first
    assert again.status == IntentStatus.SUCCEEDED


async def test_a_key_used_for_one_call_cannot_be_used_for_another(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    intent = await processor.authorize(
        idempotency_key="pay-1",
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )

    with pytest.raises(ProcessorError) as error:
        await processor.capture(intent.id, idempotency_key="pay-1")

    assert "idempotency_error" in str(error.value)
    assert (await processor.retrieve(intent.id)).status == IntentStatus.REQUIRES_CAPTURE


async def test_of_concurrent_captures_of_one_intent_exactly_one_succeeds(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    intent = await processor.authorize(
        idempotency_key="pay-1",
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )

    results = await asyncio.gather(
        *(processor.capture(intent.id, idempotency_key=f"capture-{n}") for n in range(5)),
        return_exceptions=True,
    )

    succeeded = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ProcessorError)]
    assert (len(succeeded), len(refused)) == (1, 4)
    assert (await processor.retrieve(intent.id)).amount_received == 1250


async def test_capture_racing_cancel_ends_in_one_of_them_only(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    intent = await processor.authorize(
        idempotency_key="pay-1",
        customer_id=customer,
        method_id=card.method_id,
        amount=1250,
        currency="usd",
        description="",
        metadata={},
    )

    captured, canceled = await asyncio.gather(
        processor.capture(intent.id, idempotency_key="capture"),
        processor.cancel(intent.id, idempotency_key="cancel"),
        return_exceptions=True,
    )

    assert isinstance(captured, ProcessorError) != isinstance(canceled, ProcessorError)
    final = await processor.retrieve(intent.id)
    assert final.status in (IntentStatus.SUCCEEDED, IntentStatus.CANCELED)
    assert final.amount_received == (1250 if final.status == IntentStatus.SUCCEEDED else 0)


# Refunds


async def captured_intent(processor: SimulatedProcessor, customer: str, amount: int) -> str:
    card = await save(processor, customer)
    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=amount,
        currency="usd",
        description="",
        metadata={},
    )
    await processor.capture(intent.id, idempotency_key=key())
    return intent.id


async def test_refunds_give_back_part_then_the_rest_never_more(
    processor: SimulatedProcessor, customer: str
) -> None:
    intent_id = await captured_intent(processor, customer, 1000)

    part = await processor.refund(
        intent_id, amount=300, idempotency_key="r1", metadata={"reason": "late"}
    )
    rest = await processor.refund(intent_id, amount=700, idempotency_key="r2", metadata={})
    with pytest.raises(ProcessorError) as more:
        await processor.refund(intent_id, amount=1, idempotency_key="r3", metadata={})

    assert part.id.startswith("re_sim_")
    assert part.id != rest.id
    assert (part.status, part.amount, rest.amount) == ("succeeded", 300, 700)
    assert more.value.retryable is False
    final = await processor.retrieve(intent_id)
    assert (final.status, final.amount_received, final.amount_refunded) == (
        IntentStatus.SUCCEEDED,
        1000,
        1000,
    )


async def test_a_repeated_refund_with_its_key_refunds_once(
    processor: SimulatedProcessor, customer: str
) -> None:
    intent_id = await captured_intent(processor, customer, 1000)

    first = await processor.refund(intent_id, amount=400, idempotency_key="r1", metadata={})
    again = await processor.refund(intent_id, amount=400, idempotency_key="r1", metadata={})
    with pytest.raises(ProcessorError) as other:
        await processor.refund(intent_id, amount=500, idempotency_key="r1", metadata={})

    assert again == first
    assert "idempotency_error" in str(other.value)
    assert (await processor.retrieve(intent_id)).amount_refunded == 400


async def test_only_a_captured_intent_can_be_refunded(
    processor: SimulatedProcessor, customer: str
) -> None:
    card = await save(processor, customer)
    intent = await processor.authorize(
        idempotency_key=key(),
        customer_id=customer,
        method_id=card.method_id,
        amount=1000,
        currency="usd",
        description="",
        metadata={},
    )

    with pytest.raises(ProcessorError) as refused:
        await processor.refund(intent.id, amount=100, idempotency_key=key(), metadata={})

    assert "payment_intent_unexpected_state" in str(refused.value)
    assert (await processor.retrieve(intent.id)).amount_refunded == 0


async def test_concurrent_refunds_never_exceed_what_was_received(
    processor: SimulatedProcessor, customer: str
) -> None:
    intent_id = await captured_intent(processor, customer, 1000)

    results = await asyncio.gather(
        *(
            processor.refund(intent_id, amount=300, idempotency_key=f"r{n}", metadata={})
            for n in range(5)
        ),
        return_exceptions=True,
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert (await processor.retrieve(intent_id)).amount_refunded == 900


# Webhooks


async def test_it_refuses_every_webhook_because_it_sends_none(
    processor: SimulatedProcessor,
) -> None:
    with pytest.raises(InvalidWebhook):
        processor.parse_webhook(b'{"id": "evt_1", "type": "payment_intent.succeeded"}', "t=1,v1=00")
