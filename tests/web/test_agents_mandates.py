"""Mandates on the Connected agents page: what was spent, narrowing, removing, never widening."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import optional_principal
from gateway.identity.models import Grant
from gateway.payments.models import Payment, PaymentStatus
from gateway.principal import Principal
from seeds.people import PEOPLE
from services.common.db import utcnow
from tests.support.agents import bearer, make_agent, make_grant, make_sub_grant, mint_access_token
from tests.web.conftest import BASE_URL, signed_in
from tests.web.test_agents_pages import card, grant, in_db

SCOPE = "chat:read rides:read rides:book payments:spend"
MANDATE: dict[str, Any] = {
    "type": "payment_mandate",
    "currency": "EUR",
    "max_per_payment": 5000,
    "budget": {"amount": 10000, "period": "week"},
    "approval_threshold": 3000,
    "services": ["chat", "rides"],
}
SHARE: dict[str, Any] = {
    **MANDATE,
    "max_per_payment": 2000,
    "budget": {"amount": 4000, "period": "week"},
    "approval_threshold": 1000,
}


async def _spenders(app: FastAPI, person: str = "alice") -> tuple[Grant, Grant]:
    """An agent of ``person`` with a mandate, and its sub-agent with a share of it."""

    async def work(db: AsyncSession) -> tuple[Grant, Grant]:
        parent = await make_grant(
            db, PEOPLE[person].id, await make_agent(db, "Ride Booker"), scope=SCOPE
        )
        parent.authorization_details = [MANDATE]
        child = await make_sub_grant(db, parent, await make_agent(db, "Fare Scout"))
        child.authorization_details = [SHARE]
        await db.flush()
        return parent, child

    found: tuple[Grant, Grant] = await in_db(app, work)
    return found


def _payment(
    grant: Grant,
    amount: int,
    status: PaymentStatus,
    *,
    captured: int = 0,
    refunded: int = 0,
    days_ago: int = 0,
) -> Payment:
    return Payment(
        user_id=grant.user_id,
        grant_id=grant.id,
        service="rides",
        reference=uuid.uuid4().hex,
        amount=amount,
        currency="EUR",
        status=status,
        processor="simulated",
        amount_captured=captured,
        amount_refunded=refunded,
        created_at=utcnow() - dt.timedelta(days=days_ago),
    )


def _form(csrf: str, **mandate: Any) -> dict[str, Any]:
    """A narrow form that keeps every scope and shows the mandate, as the page sends it."""
    fields: dict[str, Any] = {
        "csrf_token": csrf,
        "scope": SCOPE.split(),
        "mandate_shown": "1",
        "mandate": "keep",
        "max_per_payment": "50.00",
        "budget_amount": "100.00",
        "approval_threshold": "30.00",
        "mandate_service": ["chat", "rides"],
    }
    fields.update(mandate)
    return {k: v for k, v in fields.items() if v is not None}


async def test_each_mandate_shows_its_words_and_what_its_subtree_spent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parent, child = await _spenders(app)

    async def pay(db: AsyncSession) -> None:
        db.add_all(
            [
                _payment(parent, 1000, PaymentStatus.CAPTURED, captured=1000),
                _payment(parent, 250, PaymentStatus.RESERVED),
                _payment(parent, 2000, PaymentStatus.CAPTURED, captured=2000, refunded=500),
                _payment(parent, 5000, PaymentStatus.DECLINED),
                _payment(parent, 3000, PaymentStatus.VOIDED),
                _payment(parent, 4000, PaymentStatus.CAPTURED, captured=4000, days_ago=8),
                # The sub-agent's payment counts against its share and its parent's mandate.
                _payment(child, 500, PaymentStatus.AUTHORIZED),
            ]
        )

    await in_db(app, pay)
    await signed_in(client, "alice")

    page = (await client.get("/agents")).text

    booker, scout = card(page, parent.id), card(page, child.id)
    assert "Pay chat, rides up to 50.00 EUR per payment" in booker
    assert "Ask you first above 30.00 EUR" in booker
    assert "Spent 32.50 EUR of 100.00 EUR this week" in booker
    assert "Pay chat, rides up to 20.00 EUR per payment" in scout
    assert "Spent 5.00 EUR of 40.00 EUR this week" in scout
    # The sub-agent's card sits inside its parent's.
    assert booker.index(f'id="grant-{child.id}"') > booker.index("Spent 32.50 EUR")


async def test_the_narrow_form_offers_the_mandate_as_it_is(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parent, _ = await _spenders(app)
    await signed_in(client, "alice")

    page = (await client.get(f"/agents/{parent.id}/narrow")).text

    assert 'data-testid="narrow-mandate"' in page
    assert 'name="max_per_payment" value="50.00"' in page
    assert 'name="budget_amount" value="100.00"' in page
    assert 'name="approval_threshold" value="30.00"' in page
    assert 'name="mandate_service" value="rides"' in page


async def test_narrowing_the_mandate_stops_old_tokens_and_clamps_the_sub_agent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parent, child = await _spenders(app)
    token = await mint_access_token(app, parent.id)
    csrf = await signed_in(client, "alice")

    response = await client.post(
        f"/agents/{parent.id}/narrow",
        data=_form(
            csrf,
            max_per_payment="15",
            budget_amount="30,00",
            approval_threshold="5.00",
            mandate_service=["rides"],
        ),
    )

    assert response.status_code == 303, response.text
    narrowed = await grant(app, parent.id)
    assert narrowed.version == 2
    assert narrowed.scope == SCOPE
    assert narrowed.authorization_details == [
        {
            **MANDATE,
            "max_per_payment": 1500,
            "budget": {"amount": 3000, "period": "week"},
            "approval_threshold": 500,
            "services": ["rides"],
        }
    ]
    share = await grant(app, child.id)
    assert share.version == 2
    assert share.authorization_details == [
        {
            **SHARE,
            "max_per_payment": 1500,
            "budget": {"amount": 3000, "period": "week"},
            "approval_threshold": 500,
            "services": ["rides"],
        }
    ]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as agent:
        refused = await agent.get("/api/chat/channels", headers=bearer(token))
    assert refused.status_code == 401


async def test_removing_the_mandate_keeps_the_grant(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parent, child = await _spenders(app)
    csrf = await signed_in(client, "alice")

    response = await client.post(f"/agents/{parent.id}/narrow", data=_form(csrf, mandate=None))

    assert response.status_code == 303, response.text
    after, share = await grant(app, parent.id), await grant(app, child.id)
    assert (after.scope, after.authorization_details, after.version) == (SCOPE, [], 2)
    assert (share.revoked_at, share.authorization_details) == (None, [])
    page = (await client.get("/agents")).text
    assert "Spent" not in card(page, parent.id)


async def test_a_form_without_the_mandate_leaves_it_alone(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parent, _ = await _spenders(app)
    csrf = await signed_in(client, "alice")

    response = await client.post(
        f"/agents/{parent.id}/narrow",
        data={"csrf_token": csrf, "scope": ["rides:read", "payments:spend"]},
    )

    assert response.status_code == 303
    after = await grant(app, parent.id)
    assert (after.scope, after.authorization_details) == ("rides:read payments:spend", [MANDATE])


@pytest.mark.parametrize(
    "wider",
    [
        {"max_per_payment": "60.00"},
        {"budget_amount": "100.01"},
        {"budget_amount": ""},
        {"approval_threshold": ""},
        {"mandate_service": ["chat", "rides", "shop"]},
    ],
)
async def test_a_wider_mandate_is_refused_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, wider: dict[str, Any]
) -> None:
    parent, _ = await _spenders(app)
    csrf = await signed_in(client, "alice")

    response = await client.post(f"/agents/{parent.id}/narrow", data=_form(csrf, **wider))

    assert response.status_code == 403
    assert 'data-problem-type="widening-refused"' in response.text
    after = await grant(app, parent.id)
    assert (after.authorization_details, after.version) == ([MANDATE], 1)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_per_payment": "lots"},
        {"max_per_payment": "0"},
        {"max_per_payment": "40", "budget_amount": "30"},
        {"mandate_service": []},
    ],
)
async def test_a_mandate_that_is_not_one_is_refused(
    app: FastAPI, client: httpx.AsyncClient, bad: dict[str, Any]
) -> None:
    parent, _ = await _spenders(app)
    csrf = await signed_in(client, "alice")

    response = await client.post(f"/agents/{parent.id}/narrow", data=_form(csrf, **bad))

    assert response.status_code == 422, response.text
    assert (await grant(app, parent.id)).version == 1


async def test_another_persons_mandate_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    bobs, _ = await _spenders(app, "bob")
    csrf = await signed_in(client, "alice")

    response = await client.post(f"/agents/{bobs.id}/narrow", data=_form(csrf, mandate=None))

    assert response.status_code == 404
    assert (await grant(app, bobs.id)).authorization_details == [MANDATE]
    assert "Ride Booker" not in (await client.get("/agents")).text


async def test_a_token_can_not_narrow_or_remove_a_mandate(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    parent, _ = await _spenders(app)
    alice = PEOPLE["alice"]
    app.dependency_overrides[optional_principal] = lambda: Principal(
        user_id=alice.id,
        username=alice.username,
        display_name=alice.display_name,
        scopes=app.state.services.person_scopes(),
        via="token",
    )
    try:
        response = await client.post(f"/agents/{parent.id}/narrow", data=_form("", mandate=None))
    finally:
        app.dependency_overrides.clear()

    assert response.status_code == 403
    assert 'data-problem-type="people-only"' in response.text
    assert (await grant(app, parent.id)).authorization_details == [MANDATE]
