"""The Payments and Approvals pages: cards, the ledger and receipts, deciding held payments.

A person works the pages with their session (forms with the CSRF token); an agent
is an HTTP caller with a bearer token and a mandate on its grant, booking rides
through the gateway, which pays through the simulated processor. The demo people
alice, bob and carol have a seeded Visa ending in 4242; dave has no card.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from seeds.people import PEOPLE
from seeds.rides import seed_id
from tests.support.agents import bearer, make_agent, make_grant, mint_access_token
from tests.web.conftest import signed_in

ALICE = PEOPLE["alice"].id
PAY_SCOPE = "rides:read rides:book payments:spend"
AGENT = "Ride Scout"
CDG = str(seed_id("place:cdg"))
LOUVRE = str(seed_id("place:louvre"))
SIMULATED = "Simulated processor — no real money moves"
JSON = {"accept": "application/json"}


def mandate(**limits: Any) -> dict[str, Any]:
    return {
        "type": "payment_mandate",
        "currency": "EUR",
        "max_per_payment": 20_000,
        "budget": {"amount": 50_000, "period": "week"},
        "services": ["rides"],
        **limits,
    }


async def agent_of_alice(app: FastAPI, detail: dict[str, Any]) -> dict[str, str]:
    """Connect an agent to alice with ``detail`` as its mandate; return its bearer header."""
    async with app.state.sessionmaker() as db:
        agent = await make_agent(db, AGENT)
        agent.scope = PAY_SCOPE
        grant = await make_grant(db, ALICE, agent, scope=PAY_SCOPE)
        grant.authorization_details = [detail]
        await db.commit()
    return bearer(await mint_access_token(app, grant))


async def agent_quote(client: httpx.AsyncClient, agent: dict[str, str]) -> tuple[str, int]:
    """The agent asks for a price from CDG to the Louvre: (quote id, amount in cents)."""
    response = await client.post(
        "/api/rides/quotes",
        headers=JSON | agent,
        json={"pickup_place_id": CDG, "dropoff_place_id": LOUVRE, "product": "standard"},
    )
    assert response.status_code == 201, response.text
    quote = response.json()
    return quote["id"], quote["price"]["amount"]


async def agent_books(
    client: httpx.AsyncClient, agent: dict[str, str], quote_id: str
) -> httpx.Response:
    return await client.post(
        "/api/rides/trips",
        json={"quote_id": quote_id},
        headers=JSON | agent | {"idempotency-key": f'"{uuid.uuid4()}"'},
    )


async def held_booking(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, int]:
    """Alice's agent books a ride above its approval threshold: (approval id, amount)."""
    probe = await agent_of_alice(app, mandate())
    _, price = await agent_quote(client, probe)
    agent = await agent_of_alice(app, mandate(approval_threshold=price - 1))
    quote_id, amount = await agent_quote(client, agent)
    held = await agent_books(client, agent, quote_id)
    assert held.status_code == 202, held.text
    return held.json()["id"], amount


def badge(html: str) -> int:
    """The number on the navigation's Approvals badge (0 when there is none)."""
    found = re.search(r'data-testid="approvals-badge"[^>]*>(\d+)<', html)
    return int(found.group(1)) if found else 0


def price_of(amount: int) -> str:
    return f"{amount / 100:.2f} EUR"


# -- cards -------------------------------------------------------------------------------


async def test_payments_page_shows_the_seeded_default_card_as_simulated(
    client: httpx.AsyncClient,
) -> None:
    await signed_in(client, "alice")

    page = await client.get("/payments")

    assert page.status_code == 200
    assert "Visa ending in 4242" in page.text
    assert 'data-testid="default-card"' in page.text
    assert SIMULATED in page.text
    assert "4000 0000 0000 0002" in page.text  # the test cards to try are listed


async def test_a_person_without_a_card_adds_a_test_card(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "dave")
    assert 'data-testid="no-cards"' in (await client.get("/payments")).text

    saved = await client.post(
        "/payments/cards",
        data={
            "number": "4242 4242 4242 4242",
            "exp_month": "12",
            "exp_year": "2031",
            "csrf_token": csrf,
        },
    )

    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert "Card saved" in page.text
    assert "Visa ending in 4242" in page.text
    assert "Expires 12/2031" in page.text
    assert 'data-testid="default-card"' in page.text  # the first card is the default


async def test_a_card_declined_at_setup_is_explained_in_place(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "dave")

    page = await client.post(
        "/payments/cards",
        data={
            "number": "4000000000000002",
            "exp_month": "12",
            "exp_year": "2031",
            "csrf_token": csrf,
        },
    )

    assert page.status_code == 422
    assert re.search(r'data-testid="card-error">Your card was declined.<', page.text)
    assert 'data-testid="no-cards"' in page.text


async def test_a_number_that_is_not_a_test_card_is_refused(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "dave")

    page = await client.post(
        "/payments/cards",
        data={
            "number": "4111 1111 1111 1111",
            "exp_month": "12",
            "exp_year": "2031",
            "csrf_token": csrf,
        },
    )

    assert page.status_code == 422
    assert "accepts only Stripe&#39;s test cards" in page.text
    assert 'data-testid="no-cards"' in page.text


async def test_a_new_card_can_become_the_default_and_the_old_one_be_removed(
    client: httpx.AsyncClient,
) -> None:
    csrf = await signed_in(client, "alice")
    await client.post(
        "/payments/cards",
        data={
            "number": "5555555555554444",
            "exp_month": "1",
            "exp_year": "2032",
            "csrf_token": csrf,
        },
    )
    page = (await client.get("/payments")).text
    assert page.index("Visa ending in 4242") < page.index("Mastercard ending in 4444")
    mastercard = re.search(r'action="/payments/cards/([0-9a-f-]{36})/default"', page)
    assert mastercard

    made = await client.post(
        f"/payments/cards/{mastercard.group(1)}/default", data={"csrf_token": csrf}
    )

    assert made.status_code == 303
    page = (await client.get("/payments")).text
    assert (
        page.index("Mastercard ending in 4444")
        < page.index('data-testid="default-card"')
        < page.index("Visa ending in 4242")
    )
    visa = re.search(r'action="/payments/cards/([0-9a-f-]{36})/default"', page)
    assert visa
    removed = await client.post(
        f"/payments/cards/{visa.group(1)}/remove", data={"csrf_token": csrf}
    )
    assert removed.status_code == 303
    page = (await client.get("/payments")).text
    assert "Visa ending in 4242" not in page
    assert "Mastercard ending in 4444" in page


async def test_someone_elses_card_cannot_be_changed(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient
) -> None:
    bob_csrf = await signed_in(other_client, "bob")
    await other_client.post(
        "/payments/cards",
        data={
            "number": "5555555555554444",
            "exp_month": "1",
            "exp_year": "2032",
            "csrf_token": bob_csrf,
        },
    )
    bobs = re.search(
        r'action="/payments/cards/([0-9a-f-]{36})/default"',
        (await other_client.get("/payments")).text,
    )
    assert bobs
    csrf = await signed_in(client, "alice")

    response = await client.post(
        f"/payments/cards/{bobs.group(1)}/remove", data={"csrf_token": csrf}
    )

    assert response.status_code == 404
    assert "Mastercard ending in 4444" in (await other_client.get("/payments")).text


# -- the ledger and receipts -------------------------------------------------------------


async def test_the_ledger_lists_an_agents_payment_with_its_name_and_a_receipt(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    agent = await agent_of_alice(app, mandate())
    quote_id, amount = await agent_quote(client, agent)
    booked = await agent_books(client, agent, quote_id)
    assert booked.status_code == 201, booked.text
    payment_id = booked.json()["payment_receipt"]["id"]
    await signed_in(client, "alice")

    page = await client.get("/payments")

    row = re.search(rf'<tr data-testid="payment-{payment_id}">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    assert f"paid by <strong>{AGENT}</strong>" in row.group(1)
    assert price_of(amount) in row.group(1)
    assert "Paid" in row.group(1)
    assert f'href="/payments/{payment_id}"' in row.group(1)
    receipt = await client.get(f"/payments/{payment_id}")
    assert receipt.status_code == 200
    assert 'data-testid="receipt"' in receipt.text
    assert re.search(rf'data-testid="receipt-amount">{price_of(amount)}<', receipt.text)
    assert f"paid by <strong>{AGENT}</strong>" in receipt.text
    assert "Visa ending in 4242" in receipt.text
    assert SIMULATED in receipt.text


async def test_someone_elses_receipt_and_approval_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, other_client: httpx.AsyncClient
) -> None:
    agent = await agent_of_alice(app, mandate())
    quote_id, _ = await agent_quote(client, agent)
    payment_id = (await agent_books(client, agent, quote_id)).json()["payment_receipt"]["id"]
    approval_id, _ = await held_booking(app, client)
    await signed_in(other_client, "bob")

    assert (await other_client.get(f"/payments/{payment_id}")).status_code == 404
    assert (await other_client.get(f"/approvals/{approval_id}")).status_code == 404
    assert payment_id not in (await other_client.get("/payments")).text
    assert approval_id not in (await other_client.get("/approvals")).text


# -- who may use the pages ---------------------------------------------------------------


async def test_no_token_can_use_the_pages_or_decide_an_approval(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    approval_id, _ = await held_booking(app, client)
    agent = await agent_of_alice(app, mandate())
    async with app.state.sessionmaker() as db:
        personal = await make_grant(db, ALICE, None, scope=PAY_SCOPE, label="script")
        await db.commit()
    own_token = bearer(await mint_access_token(app, personal))

    for token in (agent, own_token):
        for path in ("/payments", "/approvals"):
            assert (await client.get(path, headers=token)).status_code == 403, path
        for verdict in ("approve", "deny"):
            response = await client.post(f"/approvals/{approval_id}/{verdict}", headers=token)
            assert response.status_code == 403, response.text
            assert response.json()["type"].endswith("/people-only")
        added = await client.post(
            "/payments/cards",
            headers=token,
            data={"number": "4242424242424242", "exp_month": "12", "exp_year": "2031"},
        )
        assert added.status_code == 403
    poll = await client.get(f"/approvals/{approval_id}", headers=JSON | agent)
    assert poll.status_code == 404  # another agent of alice's: not its approval


async def test_forms_without_the_csrf_token_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    approval_id, _ = await held_booking(app, client)
    await signed_in(client, "alice")

    added = await client.post(
        "/payments/cards",
        data={"number": "4242424242424242", "exp_month": "12", "exp_year": "2031"},
    )
    approved = await client.post(f"/approvals/{approval_id}/approve", data={})

    assert added.status_code == 403
    assert approved.status_code == 403
    assert badge((await client.get("/approvals")).text) == 1  # still waiting


# -- the Approvals inbox -----------------------------------------------------------------


async def test_approving_from_the_inbox_books_the_ride_and_the_badge_goes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    approval_id, amount = await held_booking(app, client)
    csrf = await signed_in(client, "alice")

    inbox = await client.get("/approvals")

    assert badge(inbox.text) == 1
    card = re.search(rf'data-testid="approval-{approval_id}">(.*?)</article>', inbox.text, re.S)
    assert card, inbox.text
    assert re.search(rf'data-testid="approval-amount">{price_of(amount)}<', card.group(1))
    assert re.search(rf'data-testid="approval-agent">{AGENT}<', card.group(1))
    assert "Above the approval threshold" in card.group(1)
    assert re.search(r"expires in 1[45] min", card.group(1))

    approved = await client.post(f"/approvals/{approval_id}/approve", data={"csrf_token": csrf})

    assert approved.status_code == 303
    assert approved.headers["location"] == f"/approvals/{approval_id}"
    page = await client.get(approved.headers["location"])
    assert re.search(r'data-testid="approval-status">Approved and done<', page.text)
    assert badge(page.text) == 0
    assert 'data-testid="approval-receipt"' in page.text
    inbox = await client.get("/approvals")
    assert 'data-testid="no-pending"' in inbox.text
    assert f'data-testid="decided-{approval_id}"' in inbox.text
    ledger = (await client.get("/payments")).text
    assert f"paid by <strong>{AGENT}</strong>" in ledger


async def test_denying_from_the_inbox_pays_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    approval_id, _ = await held_booking(app, client)
    csrf = await signed_in(client, "alice")

    denied = await client.post(f"/approvals/{approval_id}/deny", data={"csrf_token": csrf})

    page = await client.get(denied.headers["location"])
    assert re.search(r'data-testid="approval-status">Denied, nothing paid<', page.text)
    assert badge(page.text) == 0
    assert 'data-testid="no-payments"' in (await client.get("/payments")).text


async def test_approving_twice_shows_it_already_decided(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    approval_id, _ = await held_booking(app, client)
    csrf = await signed_in(client, "alice")
    await client.post(f"/approvals/{approval_id}/approve", data={"csrf_token": csrf})

    again = await client.post(f"/approvals/{approval_id}/approve", data={"csrf_token": csrf})
    denied_after = await client.post(f"/approvals/{approval_id}/deny", data={"csrf_token": csrf})

    assert again.status_code == denied_after.status_code == 303
    page = await client.get(again.headers["location"])
    assert re.search(r'data-testid="approval-status">Approved and done<', page.text)
    assert "Approve " not in page.text.split('data-testid="approval"')[1]  # no buttons left
    ledger = (await client.get("/payments")).text
    assert ledger.count('<tr data-testid="payment-') == 1  # paid once
