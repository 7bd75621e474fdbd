"""The device authorization endpoint (RFC 8628 section 3.1/3.2)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from gateway.identity.models import Agent
from gateway.oauth import device
from gateway.oauth.models import DeviceCode
from seeds.agents import TRIP_PLANNER
from tests.gateway.oauth.test_revoke_introspect import ISSUER, _app, confidential_agent
from tests.support.agents import make_agent


async def device_agent(client: httpx.AsyncClient) -> Agent:
    """A public native agent registered for the device grant (and refresh)."""
    async with _app(client).state.sessionmaker() as db, db.begin():
        agent = await make_agent(db, "Kitchen Display", kind="native")
        agent.grant_types = [device.DEVICE_CODE_GRANT_TYPE, "refresh_token"]
    return agent


async def test_a_device_authorization_gives_codes_and_where_to_approve(
        client: httpx.AsyncClient) -> None:
    agent = await device_agent(client)
    response = await client.post("/oauth/device_authorization",
                                 data={"client_id": agent.client_id, "scope": "chat:read"})

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("no-store")
    body = response.json()
    assert device.normalize_user_code(body["user_code"]) == body["user_code"]
    assert body["verification_uri"] == f"{ISSUER}/device"
    assert body["verification_uri_complete"] == \
        f"{ISSUER}/device?user_code={body['user_code']}"
    assert body["expires_in"] == 600
    assert body["interval"] == 5
    async with _app(client).state.sessionmaker() as db:
        row = await db.scalar(select(DeviceCode).where(
            DeviceCode.device_code_hash == device.hash_code(body["device_code"])))
    assert row is not None
    assert row.scope == "chat:read"
    assert row.resource == f"{ISSUER}/api"


async def test_omitted_scope_is_what_the_agent_registered(client: httpx.AsyncClient) -> None:
    agent = await device_agent(client)
    response = await client.post("/oauth/device_authorization",
                                 data={"client_id": agent.client_id})

    assert response.status_code == 200, response.text
    async with _app(client).state.sessionmaker() as db:
        row = await db.scalar(select(DeviceCode).where(
            DeviceCode.device_code_hash == device.hash_code(response.json()["device_code"])))
    assert row is not None
    assert row.scope == "chat:read chat:write rides:read"


async def test_refusals(client: httpx.AsyncClient) -> None:
    confidential, _ = await confidential_agent(_app(client))
    agent = await device_agent(client)
    cases = [
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"client_id": agent.client_id, "scope": "payments:spend"}, 400, "invalid_scope"),
        ({"client_id": agent.client_id, "scope": "chat:read admin"}, 400, "invalid_scope"),
        ({"client_id": agent.client_id, "resource": "https://elsewhere.test/api"},
         400, "invalid_target"),
        # No secret sent for a confidential client.
        ({"client_id": confidential.client_id}, 401, "invalid_client"),
        # Trip Planner registered no device grant type.
        ({"client_id": TRIP_PLANNER.client_id}, 400, "unauthorized_client"),
    ]
    for form, status, error in cases:
        response = await client.post("/oauth/device_authorization", data=form)
        assert response.status_code == status, (form, response.text)
        assert response.json()["error"] == error
