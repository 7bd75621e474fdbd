"""Token exchange hands a sub-agent a share of its parent's mandate, never more, never unasked."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.identity.models import Agent, Grant
from seeds.people import PEOPLE
from tests.gateway.oauth.test_token_exchange import _app, exchange, helper_agent, refused
from tests.support.agents import make_agent, make_grant, mint_access_token

PARENT_MANDATE: dict[str, Any] = {
    "type": "payment_mandate",
    "currency": "EUR",
    "max_per_payment": 5000,
    "budget": {"amount": 10000, "period": "week"},
    "approval_threshold": 3000,
    "services": ["rides"],
}
SHARE: dict[str, Any] = {
    **PARENT_MANDATE,
    "max_per_payment": 2000,
    "budget": {"amount": 4000, "period": "week"},
    "approval_threshold": 1000,
}


async def _parent_token(app: FastAPI, details: list[dict[str, Any]] | None = None) -> str:
    """A token of an agent alice let spend (with the parent mandate, unless told otherwise)."""
    async with app.state.sessionmaker() as db, db.begin():
        agent = await make_agent(db, "Trip Booker")
        grant = await make_grant(
            db, PEOPLE["alice"].id, agent, scope="rides:read rides:book payments:spend"
        )
        grant.authorization_details = [PARENT_MANDATE] if details is None else details
    return await mint_access_token(app, grant.id, lifetime=120)


@pytest.fixture
async def helper(client: httpx.AsyncClient) -> Agent:
    agent = await helper_agent(_app(client), "Ride Scout")
    async with _app(client).state.sessionmaker() as db, db.begin():
        row = await db.get(Agent, agent.id)
        assert row is not None
        row.scope = "rides:read rides:book payments:spend"
    return agent


async def _child_grants(client: httpx.AsyncClient, helper: Agent) -> list[Grant]:
    async with _app(client).state.sessionmaker() as db:
        return list((await db.scalars(select(Grant).where(Grant.agent_id == helper.id))).all())


def _details(mandate: dict[str, Any]) -> str:
    return json.dumps([mandate])


async def test_a_narrower_share_is_granted_kept_and_echoed(
    client: httpx.AsyncClient, helper: Agent
) -> None:
    parent = await _parent_token(_app(client))

    response = await exchange(
        client,
        parent,
        client_id=helper.client_id,
        scope="rides:book payments:spend",
        authorization_details=_details(SHARE),
    )

    assert response.status_code == 200, response.text
    assert response.json()["authorization_details"] == [SHARE]
    (child,) = await _child_grants(client, helper)
    assert child.authorization_details == [SHARE]
    assert child.parent_id is not None


async def test_the_same_share_reuses_the_child_grant_and_another_share_does_not(
    client: httpx.AsyncClient, helper: Agent
) -> None:
    parent = await _parent_token(_app(client))
    ask = {"client_id": helper.client_id, "scope": "rides:book payments:spend"}

    for _ in range(2):
        response = await exchange(client, parent, **ask, authorization_details=_details(SHARE))
        assert response.status_code == 200, response.text
    assert len(await _child_grants(client, helper)) == 1

    smaller = {**SHARE, "max_per_payment": 1000}
    response = await exchange(client, parent, **ask, authorization_details=_details(smaller))
    assert response.status_code == 200, response.text
    details = sorted(
        g.authorization_details[0]["max_per_payment"] for g in await _child_grants(client, helper)
    )
    assert details == [1000, 2000]


@pytest.mark.parametrize(
    ("wider", "named"),
    [
        ({"max_per_payment": 6000}, "max_per_payment"),
        ({"budget": {"amount": 2000, "period": "day"}}, "budget"),
        ({"approval_threshold": None}, "approval_threshold"),
        ({"services": ["rides", "chat"]}, "services"),
    ],
)
async def test_a_wider_share_is_refused_naming_what_is_wider(
    client: httpx.AsyncClient, helper: Agent, wider: dict[str, Any], named: str
) -> None:
    parent = await _parent_token(_app(client))
    share = {k: v for k, v in {**SHARE, **wider}.items() if v is not None}

    response = await exchange(
        client,
        parent,
        client_id=helper.client_id,
        scope="rides:book payments:spend",
        authorization_details=_details(share),
    )

    refused(response, "invalid_authorization_details")
    assert named in response.json()["error_description"]
    assert await _child_grants(client, helper) == []


async def test_without_the_parameter_the_sub_agent_gets_no_mandate(
    client: httpx.AsyncClient, helper: Agent
) -> None:
    parent = await _parent_token(_app(client))

    response = await exchange(client, parent, client_id=helper.client_id)

    assert response.status_code == 200, response.text
    assert "authorization_details" not in response.json()
    (child,) = await _child_grants(client, helper)
    assert child.authorization_details == []


async def test_a_share_of_a_parent_that_may_not_spend_is_refused(
    client: httpx.AsyncClient, helper: Agent
) -> None:
    parent = await _parent_token(_app(client), details=[])

    response = await exchange(
        client,
        parent,
        client_id=helper.client_id,
        scope="rides:book payments:spend",
        authorization_details=_details(SHARE),
    )

    refused(response, "invalid_authorization_details")
    assert "no mandate" in response.json()["error_description"]


async def test_a_share_without_the_spending_scope_is_an_invalid_request(
    client: httpx.AsyncClient, helper: Agent
) -> None:
    parent = await _parent_token(_app(client))

    response = await exchange(
        client,
        parent,
        client_id=helper.client_id,
        scope="rides:read",
        authorization_details=_details(SHARE),
    )

    refused(response, "invalid_request")
    assert "payments:spend" in response.json()["error_description"]


async def test_malformed_details_are_refused(client: httpx.AsyncClient, helper: Agent) -> None:
    parent = await _parent_token(_app(client))

    response = await exchange(
        client, parent, client_id=helper.client_id, authorization_details="[{nope"
    )

    refused(response, "invalid_authorization_details")
    assert await _child_grants(client, helper) == []
