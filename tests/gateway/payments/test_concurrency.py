"""Budgets never overspend, however many paid calls arrive at once.

The first test is issue 5's "Done means": 50 agent calls, each booking its own
quote with its own Idempotency-Key, race through the whole HTTP pipeline (the
simulated processor behind it) against a budget that covers exactly ten. The
second states the invariant behind it for any amounts and any budget: what the
ledger counts never exceeds the budget, and nothing that would still have fitted
is refused.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import anyio
import httpx
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.payments import ledger
from gateway.payments.budget import COUNTED
from gateway.payments.ledger import Ask, Payer
from gateway.payments.models import Payment, PaymentStatus
from services.rides.models import Trip
from tests.gateway.payments.conftest import (
    ALICE,
    MandatedAgent,
    QuoteFor,
    app_of,
    book,
    key,
    mandate,
    payments_of,
    save_card,
)

TRIPS = "/api/rides/trips"
CALLS = 50
COVERED = 10


async def test_fifty_concurrent_paid_calls_against_a_budget_for_ten_pay_exactly_ten(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor,
        database_url: str) -> None:
    await save_card(client)
    quotes = [await quote(nth=0) for _ in range(CALLS)]
    [price] = {amount for _, amount in quotes}
    budget = COVERED * price
    agent = await mandated(mandate(max_per_payment=price, budget=budget, period="month"))
    answers: dict[str, httpx.Response] = {}

    async def pay(quote_id: str) -> None:
        answers[quote_id] = await client.post(TRIPS, **book(quote_id),
                                              headers=agent.headers | key())

    started = time.perf_counter()
    async with anyio.create_task_group() as calls:
        for quote_id, _ in quotes:
            calls.start_soon(pay, quote_id)
    elapsed = time.perf_counter() - started

    statuses = Counter(response.status_code for response in answers.values())
    assert statuses == {201: COVERED, 402: CALLS - COVERED}, {
        q: (r.status_code, r.text[:200]) for q, r in answers.items() if r.status_code >= 500}
    booked = {q for q, r in answers.items() if r.status_code == 201}
    for quote_id, response in answers.items():
        if quote_id in booked:
            assert response.json()["payment_receipt"]["status"] == "captured"
        else:
            problem = response.json()
            assert response.headers["content-type"] == "application/problem+json"
            assert (problem["type"], problem["reason"]) == (
                "/problems/payment-refused", "budget_exhausted")
            assert problem["budget_left"] == 0
    async with app_of(client).state.sessionmaker() as db:
        payments = (await db.scalars(sa.select(Payment))).all()
        trips = (await db.scalars(sa.select(Trip).where(
            Trip.quote_id.in_([uuid.UUID(q) for q, _ in quotes])))).all()
    # Refused calls leave no ledger row at all; nothing is left held or in doubt.
    assert Counter(p.status for p in payments) == {PaymentStatus.CAPTURED: COVERED}
    assert sum(p.amount_captured for p in payments) == budget
    assert {str(t.quote_id) for t in trips} == booked
    print(f"\n{CALLS} concurrent paid calls on {database_url.split(':')[0]}: {elapsed:.2f} s")


# The invariant, for any amounts and any budget.

amounts = st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=12)
budgets = st.integers(min_value=1, max_value=20_000)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(asks=amounts, budget=budgets)
async def test_concurrent_reservations_never_overspend_and_refuse_only_what_does_not_fit(
        client: httpx.AsyncClient, mandated: MandatedAgent, asks: list[int],
        budget: int) -> None:
    payments = payments_of(client)
    if not await _has_card(client):
        await save_card(client)
    cap = min(budget, 5_000)  # a mandate's cap is never above its budget
    # Each example spends under a grant of its own, so examples don't share a budget.
    agent = await mandated(mandate(max_per_payment=cap, budget=budget, period="day"))
    payer = Payer(user_id=ALICE, grant_id=agent.grant_id, agent_id=agent.agent_id,
                  actor_name="Trip Planner")
    reserved: list[int] = []
    refused: list[int] = []

    async def reserve(amount: int) -> None:
        outcome = await ledger.reserve(
            payments.sessionmaker, payer,
            Ask(service="rides", operation_id="book_trip", amount=amount, currency="EUR",
                reference=f"ref-{uuid.uuid4()}", description="a ride"),
            processor=payments.processor.name, request_id=str(uuid.uuid4()))
        if amount > cap:
            assert isinstance(outcome, ledger.Refused)
            assert outcome.reason == "over_per_payment_cap"
        elif isinstance(outcome, ledger.Refused):
            assert outcome.reason == "budget_exhausted"
            refused.append(amount)
        else:
            assert isinstance(outcome, ledger.Reserved)
            reserved.append(amount)

    async with anyio.create_task_group() as calls:
        for amount in asks:
            calls.start_soon(reserve, amount)

    async with payments.sessionmaker() as db:
        counted = int(await db.scalar(sa.select(sa.func.coalesce(sa.func.sum(COUNTED), 0))
                                      .where(Payment.grant_id == agent.grant_id)) or 0)
    assert counted <= budget
    assert counted == sum(reserved)
    # A refusal saw no more spent than the end result, so it didn't fit then either.
    assert all(amount > budget - counted for amount in refused)


async def _has_card(client: httpx.AsyncClient) -> bool:
    from gateway.payments.models import PaymentMethod

    async with app_of(client).state.sessionmaker() as db:
        return await db.scalar(sa.select(PaymentMethod.id).limit(1)) is not None
