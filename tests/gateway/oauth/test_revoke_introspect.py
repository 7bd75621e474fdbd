"""Revocation (RFC 7009) and introspection (RFC 7662): a client acts on its own tokens only."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from gateway.identity.grants import revoke_grant
from gateway.identity.models import Agent, Grant, Revocation
from gateway.oauth.clients import hash_client_secret
from gateway.oauth.models import RefreshToken
from seeds.agents import CALENDAR_HELPER, CALENDAR_HELPER_GRANT, TRIP_PLANNER, TRIP_PLANNER_GRANT
from seeds.people import PEOPLE
from services.common.db import utcnow
from tests.support.agents import bearer, make_agent, make_grant, mint_access_token

ISSUER = "http://127.0.0.1:8000"
SECRET = "s3cret-" + "x" * 32


def _app(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def confidential_agent(app: FastAPI) -> tuple[Agent, Grant]:
    async with app.state.sessionmaker() as db, db.begin():
        agent = await make_agent(db, "Report Bot", client_id=f"report-bot-{uuid.uuid4().hex[:6]}")
        agent.token_endpoint_auth_method = "client_secret_post"
        agent.client_secret_hash = hash_client_secret(SECRET)
        grant = await make_grant(db, PEOPLE["alice"].id, agent, scope="chat:read")
    return agent, grant


async def refresh_token(app: FastAPI, grant_id: uuid.UUID, agent_id: uuid.UUID) -> str:
    token = secrets.token_urlsafe(32)
    async with app.state.sessionmaker() as db, db.begin():
        grant = await db.get(Grant, grant_id)
        assert grant is not None
        db.add(RefreshToken(
            token_hash=hashlib.sha256(token.encode()).hexdigest(), family_id=uuid.uuid4(),
            grant_id=grant_id, agent_id=agent_id, user_id=grant.user_id, scope=grant.scope,
            resource=f"{ISSUER}/api", expires_at=utcnow() + dt.timedelta(days=30)))
    return token


def as_public(agent_client_id: str, **form: str) -> dict[str, str]:
    return {"client_id": agent_client_id, **form}


async def introspect(client: httpx.AsyncClient, form: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/oauth/introspect", data=form)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("no-store")
    body: dict[str, Any] = response.json()
    return body


async def test_introspection_describes_a_live_token(client: httpx.AsyncClient) -> None:
    token = await mint_access_token(_app(client), TRIP_PLANNER_GRANT)

    body = await introspect(client, as_public(TRIP_PLANNER.client_id, token=token))

    assert body["active"] is True
    assert body["client_id"] == TRIP_PLANNER.client_id
    assert body["sub"] == str(PEOPLE["alice"].id)
    assert body["aud"] == f"{ISSUER}/api"
    assert body["grant_id"] == str(TRIP_PLANNER_GRANT)
    assert body["act"] == {"sub": f"agent:{TRIP_PLANNER.id}", "client_id": TRIP_PLANNER.client_id}
    assert body["token_type"] == "Bearer"
    assert set(body["scope"].split()) == {"chat:read", "rides:read"}
    assert body["exp"] > body["iat"]


async def test_introspection_of_a_revoked_expired_unknown_or_others_token_is_inactive(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    revoked = await mint_access_token(app, TRIP_PLANNER_GRANT)
    expired = await mint_access_token(app, TRIP_PLANNER_GRANT, lifetime=1,
                                      issued_at=int(utcnow().timestamp()) - 600)
    others = await mint_access_token(app, CALENDAR_HELPER_GRANT)
    assert (await introspect(client, as_public(TRIP_PLANNER.client_id, token=revoked)))["active"]
    async with app.state.sessionmaker() as db, db.begin():
        await revoke_grant(db, PEOPLE["alice"].id, TRIP_PLANNER_GRANT)

    for token in (revoked, expired, others, "garbage", "a.b.c"):
        body = await introspect(client, as_public(TRIP_PLANNER.client_id, token=token))
        assert body == {"active": False}, token


async def test_introspection_and_revocation_need_an_authenticated_client(
        client: httpx.AsyncClient) -> None:
    agent, grant = await confidential_agent(_app(client))
    token = await mint_access_token(_app(client), grant)

    for path in ("/oauth/introspect", "/oauth/revoke"):
        unknown = await client.post(path, data={"client_id": "nobody", "token": token})
        wrong = await client.post(path, data={"client_id": agent.client_id,
                                              "client_secret": "wrong", "token": token})
        assert unknown.status_code == 401
        assert unknown.json()["error"] == "invalid_client"
        assert wrong.status_code == 401
    body = await introspect(client, {"client_id": agent.client_id, "client_secret": SECRET,
                                     "token": token})
    assert body["active"] is True


async def test_revoking_an_access_token_stops_it_and_only_it(client: httpx.AsyncClient) -> None:
    app = _app(client)
    token = await mint_access_token(app, TRIP_PLANNER_GRANT)
    sibling = await mint_access_token(app, TRIP_PLANNER_GRANT)

    response = await client.post("/oauth/revoke", data=as_public(
        TRIP_PLANNER.client_id, token=token, token_type_hint="access_token"))

    assert response.status_code == 200
    assert (await client.get("/api/chat/channels", headers=bearer(token))).status_code == 401
    assert (await client.get("/api/chat/channels", headers=bearer(sibling))).status_code == 200
    body = await introspect(client, as_public(TRIP_PLANNER.client_id, token=token))
    assert body == {"active": False}


async def test_another_clients_token_is_answered_200_and_not_revoked(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    helpers = await mint_access_token(app, CALENDAR_HELPER_GRANT)
    helpers_refresh = await refresh_token(app, CALENDAR_HELPER_GRANT, CALENDAR_HELPER.id)

    for token in (helpers, helpers_refresh, "never-issued"):
        response = await client.post("/oauth/revoke",
                                      data=as_public(TRIP_PLANNER.client_id, token=token))
        assert response.status_code == 200

    assert (await client.get("/api/chat/channels", headers=bearer(helpers))).status_code == 200
    async with app.state.sessionmaker() as db:
        assert (await db.scalars(select(Revocation))).all() == []


async def test_revoking_a_refresh_token_revokes_its_family_and_its_access_tokens(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    token = await refresh_token(app, TRIP_PLANNER_GRANT, TRIP_PLANNER.id)
    assert (await introspect(client, as_public(
        TRIP_PLANNER.client_id, token=token, token_type_hint="refresh_token")))["active"]

    response = await client.post("/oauth/revoke", data=as_public(
        TRIP_PLANNER.client_id, token=token, token_type_hint="refresh_token"))

    assert response.status_code == 200
    async with app.state.sessionmaker() as db:
        row = await db.scalar(select(RefreshToken).where(
            RefreshToken.token_hash == hashlib.sha256(token.encode()).hexdigest()))
        assert row is not None
        assert row.revoked_at is not None
        kinds = (await db.scalars(select(Revocation.value).where(
            Revocation.kind == "family"))).all()
    assert kinds == [str(row.family_id)]
    assert (await introspect(client, as_public(TRIP_PLANNER.client_id, token=token))) == \
        {"active": False}


async def test_revoke_without_a_token_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth/revoke", data=as_public(TRIP_PLANNER.client_id))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
