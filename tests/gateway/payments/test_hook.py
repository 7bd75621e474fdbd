"""The 402 hook end to end: an agent books a paid ride, the gateway decides, pays, settles.

Each test is one HTTP conversation with the gateway (in-process, the simulated
processor behind it) and then a look at the ledger and the rides service.
"""

from __future__ import annotations

import uuid

import httpx
import sqlalchemy as sa

from gateway.payments.models import Approval, Refund
from tests.gateway.payments.conftest import (
    ALICE,
    DECLINES_CHARGES,
    NEEDS_AUTHENTICATION,
    PAY_SCOPE,
    MandatedAgent,
    QuoteFor,
    app_of,
    book,
    key,
    ledger,
    mandate,
    payments_of,
    remove_cards,
    save_card,
    trips,
)
from tests.support.agents import bearer, make_grant, mint_access_token

TRIPS = "/api/rides/trips"


async def test_an_agent_within_its_mandate_books_and_pays_with_a_receipt(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(mandate())
    quote_id, amount = await quote()

    response = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert response.status_code == 201, response.text
    trip = response.json()
    receipt = trip["payment_receipt"]
    assert receipt["status"] == "captured"
    assert receipt["amount"] == amount
    assert receipt["simulated"] is True
    assert response.headers["payment-receipt"] == receipt["id"]
    assert trip["payment_id"] == receipt["id"]
    [payment] = await ledger(client)
    assert (payment.status, payment.amount_captured) == ("captured", amount)
    assert payment.actor_name == "Trip Planner"
    assert payment.grant_id == agent.grant_id
    assert payment.delivered_at is not None


async def test_the_receipt_can_be_fetched_by_the_agent_that_paid_and_no_other(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(mandate())
    other = await mandated(mandate(), name="Other Agent")
    quote_id, amount = await quote()
    paid = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())
    url = f"/payments/{paid.json()['payment_receipt']['id']}"

    mine = await client.get(url, headers=agent.headers)
    theirs = await client.get(url, headers=other.headers)

    assert mine.status_code == 200
    assert mine.json()["paid_by"] == "Trip Planner"
    assert mine.json()["amount"] == amount
    assert theirs.status_code == 404
    assert (await client.get(f"/payments/{uuid.uuid4()}", headers=agent.headers)).status_code == 404


async def test_a_paid_call_without_an_idempotency_key_is_refused_before_anything_happens(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(mandate())
    quote_id, _ = await quote()

    response = await client.post(TRIPS, **book(quote_id), headers=agent.headers)

    assert response.status_code == 400
    assert response.json()["type"] == "/problems/idempotency-key-missing"
    assert await ledger(client) == []
    assert await trips(client, quote_id) == []


async def test_a_replayed_key_returns_the_same_booking_and_charges_once(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(mandate())
    quote_id, _ = await quote()
    same = key()

    first = await client.post(TRIPS, **book(quote_id), headers=agent.headers | same)
    again = await client.post(TRIPS, **book(quote_id), headers=agent.headers | same)

    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(await ledger(client)) == 1
    assert len(await trips(client, quote_id)) == 1


async def test_an_agent_without_the_spend_scope_is_refused_with_the_scope_named(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(mandate(), scope="rides:read rides:book")
    quote_id, _ = await quote()

    response = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert response.status_code == 403
    assert response.json()["missing_scopes"] == ["payments:spend"]
    assert await ledger(client) == []


async def refusal(client: httpx.AsyncClient, agent_headers: dict[str, str],
                  quote_id: str) -> dict[str, object]:
    response = await client.post(TRIPS, **book(quote_id), headers=agent_headers | key())
    assert response.status_code == 402, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["type"] == "/problems/payment-refused"
    return problem


async def test_no_mandate_no_payment(client: httpx.AsyncClient, mandated: MandatedAgent,
                                     quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(None)
    quote_id, amount = await quote()

    problem = await refusal(client, agent.headers, quote_id)

    assert problem["reason"] == "no_mandate"
    assert str(problem["fix_at"]).endswith("/agents")
    assert problem["amount"] == amount
    assert await ledger(client) == []
    assert await trips(client, quote_id) == []


async def test_a_service_outside_the_mandate_is_refused(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(mandate(services=("chat",)))
    quote_id, _ = await quote()

    assert (await refusal(client, agent.headers, quote_id))["reason"] == "service_not_in_mandate"


async def test_a_payment_over_the_cap_is_refused(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(max_per_payment=amount - 1))

    problem = await refusal(client, agent.headers, quote_id)

    assert problem["reason"] == "over_per_payment_cap"
    assert problem["max_per_payment"] == amount - 1


async def test_a_spent_budget_refuses_the_next_payment_and_says_what_is_left(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    first_id, amount = await quote(nth=0)
    second_id, second_amount = await quote(nth=0)
    agent = await mandated(mandate(budget=amount + second_amount - 1, max_per_payment=amount))

    paid = await client.post(TRIPS, **book(first_id), headers=agent.headers | key())
    problem = await refusal(client, agent.headers, second_id)

    assert paid.status_code == 201
    assert problem["reason"] == "budget_exhausted"
    assert problem["budget_left"] == second_amount - 1
    assert "resets_at" in problem
    assert [p.status for p in await ledger(client)] == ["captured"]


async def test_no_saved_card_sends_the_person_to_the_payments_page(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await remove_cards(client)
    agent = await mandated(mandate())
    quote_id, _ = await quote()

    problem = await refusal(client, agent.headers, quote_id)

    assert problem["reason"] == "no_payment_method"
    assert str(problem["fix_at"]).endswith("/payments")


async def test_a_declined_card_books_nothing_and_is_recorded_as_declined(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client, DECLINES_CHARGES)
    agent = await mandated(mandate())
    quote_id, _ = await quote()

    problem = await refusal(client, agent.headers, quote_id)

    assert problem["reason"] == "card_declined"
    assert problem["decline_code"] == "card_declined"
    [payment] = await ledger(client)
    assert payment.status == "declined"
    assert await trips(client, quote_id) == []


async def test_a_person_pays_for_themself_with_their_card_and_no_mandate(
        client: httpx.AsyncClient, quote: QuoteFor) -> None:
    await save_card(client)
    app = app_of(client)
    async with app.state.sessionmaker() as db:
        grant = await make_grant(db, ALICE, None, scope=PAY_SCOPE, label="mine")
        await db.commit()
    alice = bearer(await mint_access_token(app, grant))
    quote_id, amount = await quote()

    response = await client.post(TRIPS, **book(quote_id), headers=alice)

    assert response.status_code == 201, response.text
    [payment] = await ledger(client)
    assert (payment.status, payment.amount, payment.grant_id) == ("captured", amount, None)
    assert payment.actor_name == ""


async def test_cancelling_refunds_through_the_gateway_by_the_services_rules(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    agent = await mandated(mandate())
    quote_id, amount = await quote()
    trip = (await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())).json()

    cancelled = await client.post(f"{TRIPS}/{trip['id']}/cancel", headers=agent.headers)

    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["refund"] == {"amount": amount, "currency": "EUR",
                              "payment_id": trip["payment_id"]}
    assert body["refund_receipt"]["status"] == "succeeded"
    [payment] = await ledger(client)
    assert payment.amount_refunded == amount
    async with app_of(client).state.sessionmaker() as db:
        [refund] = (await db.scalars(sa.select(Refund))).all()
    assert (refund.status, refund.amount) == ("succeeded", amount)
    # The same cancellation again refunds nothing more.
    again = await client.post(f"{TRIPS}/{trip['id']}/cancel", headers=agent.headers)
    assert again.status_code == 409
    assert (await ledger(client))[0].amount_refunded == amount


async def test_a_sub_agent_spends_its_share_and_its_parents_budget(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    first_id, amount = await quote(nth=0)
    second_id, _ = await quote(nth=0)
    parent = await mandated(mandate(budget=amount * 2 - 1, max_per_payment=amount))
    child = await mandated(mandate(budget=amount, max_per_payment=amount), name="Scout",
                           parent=parent)

    by_child = await client.post(TRIPS, **book(first_id), headers=child.headers | key())
    problem = await refusal(client, parent.headers, second_id)

    assert by_child.status_code == 201, by_child.text
    assert problem["reason"] == "budget_exhausted"
    [payment] = await ledger(client)
    assert payment.grant_id == child.grant_id
    assert payment.actor_name == "Trip Planner via Scout" or "Scout" in payment.actor_name


async def test_a_dry_run_says_what_the_mandate_would_do_and_reserves_nothing(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    covers = await mandated(mandate())
    asks = await mandated(mandate(approval_threshold=amount - 1))
    refuses = await mandated(mandate(max_per_payment=amount - 1))
    dry = {"Prefer": "dry-run"}

    outcomes = []
    for agent in (covers, asks, refuses):
        response = await client.post(TRIPS, **book(quote_id), headers=agent.headers | dry)
        assert response.status_code == 201, response.text
        assert response.headers["preference-applied"] == "dry-run"
        preview = response.json()["payment_preview"]
        assert (preview["amount"], preview["reserved"], preview["charged"]) == (
            amount, False, False)
        outcomes.append((preview["outcome"], preview.get("reason")))

    assert outcomes == [("would_pay", None), ("needs_approval", None),
                        ("refused", "over_per_payment_cap")]
    assert await ledger(client) == []
    assert await trips(client, quote_id) == []


async def test_over_the_threshold_the_call_is_held_and_carried_out_once_approved(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(approval_threshold=amount - 1))

    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert held.status_code == 202, held.text
    assert held.headers["retry-after"] == "5"
    location = held.headers["location"]
    waiting = (await client.get(location, headers=agent.headers)).json()
    assert (waiting["status"], waiting["reason"], waiting["amount"]) == (
        "pending", "over_threshold", amount)
    assert waiting["agent"] == "Trip Planner"
    assert await ledger(client) == []  # held requests reserve nothing while they wait

    payments = payments_of(client)
    approval_id = uuid.UUID(waiting["id"])
    await payments.approvals.approve(approval_id, ALICE, app_of(client).state.pipeline)

    done = (await client.get(location, headers=agent.headers)).json()
    assert done["status"] == "completed"
    assert done["result"]["status"] == 201
    assert done["result"]["body"]["payment_receipt"]["status"] == "captured"
    [payment] = await ledger(client)
    assert (payment.status, payment.approval_id) == ("captured", approval_id)
    assert len(await trips(client, quote_id)) == 1


async def test_a_denied_approval_pays_and_books_nothing(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(approval_threshold=amount - 1))
    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())
    approval_id = uuid.UUID(held.json()["id"])

    await payments_of(client).approvals.deny(approval_id, ALICE)

    polled = (await client.get(held.headers["location"], headers=agent.headers)).json()
    assert polled["status"] == "denied"
    assert polled["result"]["status"] == 402
    assert polled["result"]["body"]["reason"] == "approval_denied"
    assert await ledger(client) == []
    assert await trips(client, quote_id) == []


async def test_another_agent_cannot_see_an_approval(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(approval_threshold=amount - 1))
    other = await mandated(mandate(), name="Other Agent")
    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    response = await client.get(held.headers["location"], headers=other.headers)

    assert response.status_code == 404


async def test_a_revoked_agent_gets_nothing_when_its_held_payment_is_approved(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(approval_threshold=amount - 1))
    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())
    from gateway.identity.models import Grant
    from services.common.db import utcnow

    async with app_of(client).state.sessionmaker() as db:
        grant = await db.get(Grant, agent.grant_id)
        assert grant is not None
        grant.revoked_at = utcnow()
        await db.commit()

    approval = await payments_of(client).approvals.approve(
        uuid.UUID(held.json()["id"]), ALICE, app_of(client).state.pipeline)

    assert approval.status == "failed"
    assert b"grant_revoked" in approval.response_body
    assert await ledger(client) == []
    assert await trips(client, quote_id) == []


async def test_a_card_that_needs_authentication_waits_for_the_person_then_pays(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client, NEEDS_AUTHENTICATION)
    quote_id, amount = await quote()
    agent = await mandated(mandate())

    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert held.status_code == 202, held.text
    assert held.json()["reason"] == "authentication_required"
    [payment] = await ledger(client)
    assert payment.status == "reserved"  # the card holds nothing yet; the budget is held
    await payments_of(client).approvals.approve(uuid.UUID(held.json()["id"]), ALICE,
                                                app_of(client).state.pipeline)
    [payment] = await ledger(client)
    assert (payment.status, payment.amount_captured) == ("captured", amount)
    assert len(await trips(client, quote_id)) == 1


async def test_an_expired_approval_releases_the_hold(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client, NEEDS_AUTHENTICATION)
    quote_id, _ = await quote()
    agent = await mandated(mandate())
    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())
    from services.common.db import utcnow

    async with app_of(client).state.sessionmaker() as db:
        await db.execute(sa.update(Approval).values(expires_at=utcnow()))
        await db.commit()

    polled = (await client.get(held.headers["location"], headers=agent.headers)).json()

    assert polled["status"] == "expired"
    assert polled["result"]["body"]["reason"] == "approval_expired"
    [payment] = await ledger(client)
    assert payment.status == "voided"
