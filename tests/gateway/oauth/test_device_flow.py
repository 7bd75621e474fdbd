"""The device flow end to end (RFC 8628): start, poll, the person approves on /device, tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import update

from gateway.oauth import device
from gateway.oauth.models import DeviceCode
from services.common.db import utcnow
from tests.gateway.oauth.test_device_authorization import device_agent
from tests.gateway.oauth.test_revoke_introspect import _app
from tests.support.agents import bearer
from tests.support.web import sign_in


async def start(client: httpx.AsyncClient, scope: str = "chat:read") -> tuple[str, dict[str, Any]]:
    agent = await device_agent(client)
    response = await client.post("/oauth/device_authorization",
                                 data={"client_id": agent.client_id, "scope": scope})
    assert response.status_code == 200, response.text
    return agent.client_id, response.json()


async def poll(client: httpx.AsyncClient, client_id: str, device_code: str) -> httpx.Response:
    return await client.post("/oauth/token", data={
        "grant_type": device.DEVICE_CODE_GRANT_TYPE, "client_id": client_id,
        "device_code": device_code})


def error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    value: str = response.json()["error"]
    return value


async def decide(client: httpx.AsyncClient, user_code: str, decision: str) -> None:
    csrf = await sign_in(client, "alice")
    response = await client.post("/device", data={
        "csrf_token": csrf, "user_code": user_code, "decision": decision,
        "scope": ["chat:read"]})
    assert response.status_code == 200, response.text


async def test_an_agent_polls_until_the_person_approves_then_gets_tokens_once(
        client: httpx.AsyncClient) -> None:
    client_id, started = await start(client)

    assert error(await poll(client, client_id, started["device_code"])) == \
        "authorization_pending"
    assert error(await poll(client, client_id, started["device_code"])) == "slow_down"
    await decide(client, started["user_code"], "approve")
    client.cookies.clear()

    response = await poll(client, client_id, started["device_code"])

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("no-store")
    tokens = response.json()
    assert tokens["scope"] == "chat:read"
    assert tokens["refresh_token"]
    reads = await client.get("/api/chat/channels", headers=bearer(tokens["access_token"]))
    assert reads.status_code == 200, reads.text
    # Used twice: the device code is spent.
    assert error(await poll(client, client_id, started["device_code"])) == "invalid_grant"


async def test_a_denied_request_answers_access_denied(client: httpx.AsyncClient) -> None:
    client_id, started = await start(client)

    await decide(client, started["user_code"], "deny")

    assert error(await poll(client, client_id, started["device_code"])) == "access_denied"


async def test_an_expired_device_code_answers_expired_token(client: httpx.AsyncClient) -> None:
    client_id, started = await start(client)
    async with _app(client).state.sessionmaker() as db, db.begin():
        await db.execute(update(DeviceCode).where(
            DeviceCode.device_code_hash == device.hash_code(started["device_code"]))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1)))

    assert error(await poll(client, client_id, started["device_code"])) == "expired_token"


async def test_slow_down_lengthens_the_interval_for_later_polls(
        client: httpx.AsyncClient) -> None:
    client_id, started = await start(client)

    await poll(client, client_id, started["device_code"])
    await poll(client, client_id, started["device_code"])

    async with _app(client).state.sessionmaker() as db:
        row = await db.get(DeviceCode, device.hash_code(started["device_code"]))
    assert row is not None
    assert row.interval == started["interval"] + 5


async def test_another_client_or_no_code_is_refused(client: httpx.AsyncClient) -> None:
    _, started = await start(client)
    other_id, _ = await start(client)

    assert error(await poll(client, other_id, started["device_code"])) == "invalid_grant"
    missing = await client.post("/oauth/token", data={
        "grant_type": device.DEVICE_CODE_GRANT_TYPE, "client_id": other_id})
    assert error(missing) == "invalid_request"
