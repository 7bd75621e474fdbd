"""RFC 9396 authorization details (a payment mandate) in the code and device flows.

Asked for in the authorization request, shown on the consent page in plain words,
kept on the grant the person approves, and said again in every token response
(section 7) and introspection answer (section 9.2).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.identity.models import Agent, Grant
from gateway.oauth.models import DeviceCode
from tests.gateway.oauth.test_device_flow import poll
from tests.support.oauth import Authorization, approve, decide, redeem, redirect_params, refresh
from tests.support.web import form_csrf, sign_in

REDIRECT = "https://helper.example/callback"
SCOPE = "rides:read payments:spend"
MANDATE: dict[str, Any] = {
    "type": "payment_mandate",
    "currency": "EUR",
    "max_per_payment": 5000,
    "budget": {"amount": 10000, "period": "week"},
    "approval_threshold": 3000,
    "services": ["rides"],
}
WORDS = [
    "Pay rides up to 50.00 EUR per payment",
    "At most 100.00 EUR per week in all",
    "Ask you first above 30.00 EUR",
]


def _app(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> Agent:
    """A native agent that may ask to spend, registered for the code and device flows."""
    async with _app(client).state.sessionmaker() as db, db.begin():
        made = Agent(
            client_id="https://helper.example/client.json",
            name="Helper",
            kind="native",
            registration="metadata_document",
            publisher="Example Labs",
            redirect_uris=[REDIRECT],
            scope="chat:read rides:read rides:book payments:spend",
            grant_types=[
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
        )
        db.add(made)
    await sign_in(client, "alice")
    return made


def _asking(agent: Agent, details: Any = None, scope: str = SCOPE) -> Authorization:
    raw = details if isinstance(details, str) else json.dumps(details or [MANDATE])
    return Authorization(agent.client_id, REDIRECT, scope=scope, authorization_details=raw)


async def _grant_of(client: httpx.AsyncClient, agent: Agent) -> Grant:
    async with _app(client).state.sessionmaker() as db:
        grant = await db.scalar(select(Grant).where(Grant.agent_id == agent.id))
    assert grant is not None
    return grant


async def test_the_metadata_says_which_details_are_understood(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")

    assert response.json()["authorization_details_types_supported"] == ["payment_mandate"]


async def test_the_consent_page_shows_the_mandate_in_plain_words(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    page = await client.get(f"/oauth/authorize?{_asking(agent).query()}")

    assert page.status_code == 200, page.text
    assert 'data-testid="mandate"' in page.text
    assert ">Spending<" in page.text
    for line in WORDS:
        assert line in page.text


async def test_an_approved_mandate_is_kept_on_the_grant_and_said_with_every_token(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    auth = _asking(agent)
    tokens = (await redeem(client, auth, await approve(client, auth))).json()

    assert tokens["authorization_details"] == [MANDATE]
    assert (await _grant_of(client, agent)).authorization_details == [MANDATE]

    refreshed = await refresh(client, agent.client_id, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["authorization_details"] == [MANDATE]

    for token in (refreshed.json()["access_token"], refreshed.json()["refresh_token"]):
        answer = await client.post(
            "/oauth/introspect", data={"client_id": agent.client_id, "token": token}
        )
        assert answer.json()["active"] is True
        assert answer.json()["authorization_details"] == [MANDATE]


async def test_unticking_spending_on_consent_grants_no_mandate(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    auth = _asking(agent)

    code = await approve(client, auth, extra={"scope": ["rides:read"]})
    tokens = (await redeem(client, auth, code)).json()

    assert tokens["scope"] == "rides:read"
    assert "authorization_details" not in tokens
    assert (await _grant_of(client, agent)).authorization_details == []


async def test_a_token_narrowed_to_no_spending_carries_no_mandate(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    auth = _asking(agent)
    tokens = (await redeem(client, auth, await approve(client, auth))).json()

    narrower = await refresh(client, agent.client_id, tokens["refresh_token"], scope="rides:read")

    assert narrower.status_code == 200, narrower.text
    assert "authorization_details" not in narrower.json()


async def test_without_details_nothing_is_said_or_kept(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    auth = Authorization(agent.client_id, REDIRECT, scope=SCOPE)
    page = await client.get(f"/oauth/authorize?{auth.query()}")
    assert 'data-testid="mandate"' not in page.text

    tokens = (await redeem(client, auth, await approve(client, auth))).json()

    assert "authorization_details" not in tokens
    assert (await _grant_of(client, agent)).authorization_details == []


@pytest.mark.parametrize(
    ("details", "error", "says"),
    [
        ("[{not json", "invalid_authorization_details", "must be a JSON array"),
        ([{"type": "account_information"}], "invalid_authorization_details", "unknown"),
        ([MANDATE, MANDATE], "invalid_authorization_details", "one payment_mandate"),
        ([{**MANDATE, "services": ["casino"]}], "invalid_authorization_details", "casino"),
        ([{**MANDATE, "max_per_payment": -1}], "invalid_authorization_details", "between"),
    ],
)
async def test_invalid_details_send_the_agent_back_with_the_reason(
    client: httpx.AsyncClient, agent: Agent, details: Any, error: str, says: str
) -> None:
    response = await client.get(f"/oauth/authorize?{_asking(agent, details).query()}")

    params = redirect_params(response)
    assert params["error"] == error
    assert says in params["error_description"]
    assert params["state"] == "st-123"
    assert response.headers["location"].startswith(REDIRECT)


async def test_a_mandate_without_the_spending_scope_is_an_invalid_request(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    response = await client.get(f"/oauth/authorize?{_asking(agent, scope='rides:read').query()}")

    params = redirect_params(response)
    assert params["error"] == "invalid_request"
    assert "payments:spend" in params["error_description"]


async def test_details_are_validated_again_when_the_person_decides(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    """The request travels through the form: a forged one is refused, not stored."""
    auth = _asking(agent)
    page = await client.get(f"/oauth/authorize?{auth.query()}")
    forged = _asking(agent, [{**MANDATE, "services": ["casino"]}])

    response = await client.post(
        "/oauth/authorize",
        data={"csrf_token": form_csrf(page.text), "request": forged.query(), "decision": "approve"},
    )

    assert redirect_params(response)["error"] == "invalid_authorization_details"
    async with _app(client).state.sessionmaker() as db:
        assert await db.scalar(select(Grant).where(Grant.agent_id == agent.id)) is None


async def test_denying_a_mandate_stores_nothing(client: httpx.AsyncClient, agent: Agent) -> None:
    params = redirect_params(await decide(client, _asking(agent), "deny"))

    assert params["error"] == "access_denied"


# -- the device flow (RFC 8628; RFC 9396 section 6) ---------------------------------------


async def _device_start(client: httpx.AsyncClient, agent: Agent, details: Any) -> httpx.Response:
    return await client.post(
        "/oauth/device_authorization",
        data={
            "client_id": agent.client_id,
            "scope": SCOPE,
            "authorization_details": details if isinstance(details, str) else json.dumps(details),
        },
    )


@pytest.mark.parametrize("spend", [True, False])
async def test_the_device_flow_shows_and_grants_the_mandate(
    client: httpx.AsyncClient, agent: Agent, spend: bool
) -> None:
    started = (await _device_start(client, agent, [MANDATE])).json()
    page = await client.get("/device", params={"user_code": started["user_code"]})
    assert page.status_code == 200, page.text
    for line in WORDS:
        assert line in page.text

    done = await client.post(
        "/device",
        data={
            "csrf_token": form_csrf(page.text),
            "user_code": started["user_code"],
            "decision": "approve",
            "scope": SCOPE.split() if spend else ["rides:read"],
        },
    )
    assert done.status_code == 200, done.text
    tokens = await poll(client, agent.client_id, started["device_code"])

    assert tokens.status_code == 200, tokens.text
    expected = [MANDATE] if spend else []
    assert tokens.json().get("authorization_details", []) == expected
    assert (await _grant_of(client, agent)).authorization_details == expected


async def test_a_device_authorization_with_invalid_details_is_refused(
    client: httpx.AsyncClient, agent: Agent
) -> None:
    response = await _device_start(client, agent, [{"type": "payment_mandate"}])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_authorization_details"
    async with _app(client).state.sessionmaker() as db:
        assert await db.scalar(select(DeviceCode).where(DeviceCode.agent_id == agent.id)) is None
