"""Token exchange at the token endpoint (RFC 8693): a sub-agent gets a narrower, nested token."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jwt
from sqlalchemy import select

from gateway.identity.grants import revoke_grant
from gateway.identity.models import Agent, Grant
from gateway.oauth.exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE
from gateway.oauth.tokens import ACCESS_TOKEN_ALG
from seeds.agents import CALENDAR_HELPER, TRIP_PLANNER, TRIP_PLANNER_GRANT
from seeds.chat import channel_id
from seeds.people import PEOPLE
from services.common.db import utcnow
from tests.support.agents import bearer, make_agent, make_grant, mint_access_token

ISSUER = "http://127.0.0.1:8000"
DESIGN, GENERAL = str(channel_id("design")), str(channel_id("general"))


def _app(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


def claims_of(app: FastAPI, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, app.state.access_keys.key_set(),
                                        algorithms=[ACCESS_TOKEN_ALG]).claims
    return claims


async def exchange(client: httpx.AsyncClient, subject_token: str, *,
                   client_id: str = CALENDAR_HELPER.client_id, **extra: str) -> httpx.Response:
    return await client.post("/oauth/token", data={
        "grant_type": TOKEN_EXCHANGE_GRANT_TYPE, "client_id": client_id,
        "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE, **extra})


async def helper_agent(app: FastAPI, name: str = "Summariser") -> Agent:
    async with app.state.sessionmaker() as db, db.begin():
        agent = await make_agent(db, name, kind="native")
        agent.grant_types = [TOKEN_EXCHANGE_GRANT_TYPE]
    return agent


def refused(response: httpx.Response, error: str) -> None:
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == error, response.text


async def test_a_sub_agent_gets_a_narrower_token_with_a_nested_act(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    parent = await mint_access_token(app, TRIP_PLANNER_GRANT, lifetime=120)

    response = await exchange(client, parent, scope="chat:read")

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("no-store")
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "chat:read"
    assert "refresh_token" not in body
    claims, parent_claims = claims_of(app, body["access_token"]), claims_of(app, parent)
    assert claims["sub"] == str(PEOPLE["alice"].id)
    assert claims["client_id"] == CALENDAR_HELPER.client_id
    assert claims["act"] == {
        "sub": f"agent:{CALENDAR_HELPER.id}", "client_id": CALENDAR_HELPER.client_id,
        "act": {"sub": f"agent:{TRIP_PLANNER.id}", "client_id": TRIP_PLANNER.client_id}}
    assert claims["constraints"] == {"chat:channels": [DESIGN]}
    assert claims["exp"] <= parent_claims["exp"]
    assert claims["aud"] == f"{ISSUER}/api"
    async with app.state.sessionmaker() as db:
        child = await db.get(Grant, uuid.UUID(claims["grant_id"]))
    assert child is not None
    assert child.parent_id == TRIP_PLANNER_GRANT
    assert child.agent_id == CALENDAR_HELPER.id

    reads = await client.get("/api/chat/channels", headers=bearer(body["access_token"]))
    assert reads.status_code == 200, reads.text
    assert {c["name"] for c in reads.json()["items"]} == {"design"}
    rides = await client.get("/api/rides/trips", headers=bearer(body["access_token"]))
    assert rides.status_code == 403


async def test_omitted_parameters_inherit_and_repeated_exchanges_reuse_the_grant(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    agent = await helper_agent(app)
    parent = await mint_access_token(app, TRIP_PLANNER_GRANT)

    first = await exchange(client, parent, client_id=agent.client_id)
    second = await exchange(client, parent, client_id=agent.client_id)

    assert first.status_code == 200, first.text
    assert set(first.json()["scope"].split()) == {"chat:read", "rides:read"}
    assert claims_of(app, first.json()["access_token"])["grant_id"] == \
        claims_of(app, second.json()["access_token"])["grant_id"]


async def test_widening_scope_or_channels_is_refused(client: httpx.AsyncClient) -> None:
    parent = await mint_access_token(_app(client), TRIP_PLANNER_GRANT, scope="chat:read")

    refused(await exchange(client, parent, scope="chat:read rides:read"), "invalid_scope")
    refused(await exchange(client, parent, scope="chat:write"), "invalid_scope")
    refused(await exchange(client, parent, channels=f"{DESIGN} {GENERAL}"), "invalid_scope")
    narrower = await exchange(client, parent, channels="")
    assert narrower.status_code == 200, narrower.text
    assert claims_of(_app(client), narrower.json()["access_token"])["constraints"] == \
        {"chat:channels": []}


async def test_the_token_never_outlives_the_subject_token(client: httpx.AsyncClient) -> None:
    app = _app(client)
    parent = await mint_access_token(app, TRIP_PLANNER_GRANT, lifetime=40)

    body = (await exchange(client, parent)).json()

    assert claims_of(app, body["access_token"])["exp"] <= claims_of(app, parent)["exp"]
    assert body["expires_in"] <= 40


async def test_the_child_grant_never_outlives_the_parent_grant(client: httpx.AsyncClient) -> None:
    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        planner = await db.get(Agent, TRIP_PLANNER.id)
        parent_grant = await make_grant(db, PEOPLE["alice"].id, planner, scope="chat:read",
                                        expires_at=_in(3600))
    parent = await mint_access_token(app, parent_grant)

    body = (await exchange(client, parent)).json()

    async with app.state.sessionmaker() as db:
        child = await db.get(Grant, uuid.UUID(claims_of(app, body["access_token"])["grant_id"]))
    assert child is not None
    assert child.expires_at is not None
    assert child.expires_at <= _in(3600)


def _in(seconds: int) -> dt.datetime:
    return (utcnow() + dt.timedelta(seconds=seconds)).replace(microsecond=0)


async def test_an_expired_or_revoked_subject_token_is_refused(client: httpx.AsyncClient) -> None:
    app = _app(client)
    expired = await mint_access_token(app, TRIP_PLANNER_GRANT, lifetime=1,
                                      issued_at=int(time.time()) - 600)
    live = await mint_access_token(app, TRIP_PLANNER_GRANT)
    refused(await exchange(client, expired), "invalid_grant")

    async with app.state.sessionmaker() as db, db.begin():
        await revoke_grant(db, PEOPLE["alice"].id, TRIP_PLANNER_GRANT)

    refused(await exchange(client, live), "invalid_grant")
    refused(await exchange(client, "not-a-token"), "invalid_grant")


async def test_an_unregistered_or_unauthorized_client_is_refused(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    parent = await mint_access_token(app, TRIP_PLANNER_GRANT)
    async with app.state.sessionmaker() as db, db.begin():
        plain = await make_agent(db, "Plain Web App")

    refused(await exchange(client, parent, client_id="https://nobody.example/client.json"),
            "invalid_client")
    refused(await exchange(client, parent, client_id=plain.client_id), "unauthorized_client")


async def test_malformed_requests_are_refused(client: httpx.AsyncClient) -> None:
    parent = await mint_access_token(_app(client), TRIP_PLANNER_GRANT)

    refused(await exchange(client, parent, resource="https://elsewhere.test/api"),
            "invalid_target")
    refused(await exchange(client, parent, actor_token=parent,
                           actor_token_type=ACCESS_TOKEN_TYPE), "invalid_request")
    response = await client.post("/oauth/token", data={
        "grant_type": TOKEN_EXCHANGE_GRANT_TYPE, "client_id": CALENDAR_HELPER.client_id,
        "subject_token": parent, "subject_token_type": "urn:ietf:params:oauth:token-type:jwt"})
    refused(response, "invalid_request")
    # Exchanging one's own token for oneself is not delegation.
    refused(await exchange(client, parent, client_id=TRIP_PLANNER.client_id), "invalid_grant")


async def test_a_personal_token_can_not_be_exchanged(client: httpx.AsyncClient) -> None:
    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        personal = await make_grant(db, PEOPLE["alice"].id, None, scope="chat:read",
                                    label="script", expires_at=_in(86400))
    token = await mint_access_token(app, personal)

    refused(await exchange(client, token), "invalid_grant")


async def test_revoking_the_parent_grant_stops_the_sub_agents_tokens(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    parent = await mint_access_token(app, TRIP_PLANNER_GRANT)
    child = (await exchange(client, parent)).json()["access_token"]
    assert (await client.get("/api/chat/channels", headers=bearer(child))).status_code == 200

    async with app.state.sessionmaker() as db, db.begin():
        await revoke_grant(db, PEOPLE["alice"].id, TRIP_PLANNER_GRANT)
    # As a replica that wrote the revocation does (any other: within a second).
    app.state.revocations.invalidate()

    response = await client.get("/api/chat/channels", headers=bearer(child))
    assert response.status_code == 401
    async with app.state.sessionmaker() as db:
        children = (await db.scalars(select(Grant).where(
            Grant.parent_id == TRIP_PLANNER_GRANT))).all()
    assert children
    assert all(g.revoked_at is not None for g in children)


async def test_a_chain_of_exchanges_nests_and_only_narrows(client: httpx.AsyncClient) -> None:
    app = _app(client)
    third = await helper_agent(app, "Note Taker")
    parent = await mint_access_token(app, TRIP_PLANNER_GRANT)
    middle = (await exchange(client, parent, scope="chat:read")).json()["access_token"]

    widened = await exchange(client, middle, client_id=third.client_id,
                             scope="chat:read rides:read")
    response = await exchange(client, middle, client_id=third.client_id)

    refused(widened, "invalid_scope")
    assert response.status_code == 200, response.text
    claims = claims_of(app, response.json()["access_token"])
    assert claims["scope"] == "chat:read"
    assert claims["act"]["sub"] == f"agent:{third.id}"
    assert claims["act"]["act"]["sub"] == f"agent:{CALENDAR_HELPER.id}"
    assert claims["act"]["act"]["act"]["sub"] == f"agent:{TRIP_PLANNER.id}"
    assert claims["exp"] <= claims_of(app, middle)["exp"]
