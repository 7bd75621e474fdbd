"""The /device page (RFC 8628 section 3.3): a person types a device's code, approves or denies."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Grant
from gateway.oauth import device
from gateway.oauth.models import DeviceCode
from tests.support.agents import make_agent
from tests.web.conftest import csrf_token, signed_in
from tests.web.test_agents_pages import in_db


async def start(app: FastAPI, scope: str = "chat:read rides:read") -> device.Started:
    async def work(db: AsyncSession) -> device.Started:
        agent = await make_agent(db, "Kitchen Display", kind="native")
        return await device.start(db, agent, scope=scope, resource="https://testserver/api")
    started: device.Started = await in_db(app, work)
    return started


async def record(app: FastAPI, user_code: str) -> DeviceCode:
    async def load(db: AsyncSession) -> DeviceCode:
        found = await db.scalar(select(DeviceCode).where(DeviceCode.user_code == user_code))
        assert found is not None
        return found
    found: DeviceCode = await in_db(app, load)
    return found


async def test_signed_out_person_is_sent_to_sign_in_and_back(client: httpx.AsyncClient) -> None:
    page = await client.get("/device?user_code=BCDF-GHJK")

    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/device%3Fuser_code%3DBCDF-GHJK"


async def test_approving_with_fewer_scopes_creates_a_narrower_grant(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    started = await start(app)
    await signed_in(client, "alice")

    form = await client.get("/device")
    assert form.status_code == 200
    consent = await client.get("/device", params={"user_code": started.record.user_code.lower()})
    assert consent.status_code == 200
    assert "Allow Kitchen Display to act for you?" in consent.text
    assert "Read your channels, messages and threads" in consent.text

    done = await client.post("/device", data={
        "csrf_token": csrf_token(consent.text), "user_code": started.record.user_code,
        "scope": ["chat:read"], "decision": "approve"})

    assert done.status_code == 200
    assert "Kitchen Display is connected" in done.text
    row = await record(app, started.record.user_code)
    assert row.status == "approved"

    async def load(db: AsyncSession) -> Grant | None:
        return await db.get(Grant, row.grant_id)
    grant = await in_db(app, load)
    assert grant.scope == "chat:read"
    assert grant.agent_id == row.agent_id
    assert grant.resources == ["https://testserver/api"]


async def test_denying_records_the_denial(app: FastAPI, client: httpx.AsyncClient) -> None:
    started = await start(app)
    await signed_in(client, "alice")
    consent = await client.get("/device", params={"user_code": started.record.user_code})

    done = await client.post("/device", data={
        "csrf_token": csrf_token(consent.text), "user_code": started.record.user_code,
        "decision": "deny"})

    assert "Request denied" in done.text
    row = await record(app, started.record.user_code)
    assert row.status == "denied"
    assert row.grant_id is None


async def test_a_decision_without_the_csrf_token_is_refused(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    started = await start(app)
    await signed_in(client, "alice")

    refused = await client.post("/device", data={
        "csrf_token": "forged", "user_code": started.record.user_code, "decision": "approve",
        "scope": ["chat:read"]})

    assert refused.status_code == 403
    assert (await record(app, started.record.user_code)).status == "pending"


async def test_an_unknown_or_used_code_is_not_found(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    started = await start(app)
    csrf = await signed_in(client, "alice")
    await client.post("/device", data={"csrf_token": csrf, "user_code": started.record.user_code,
                                       "decision": "deny"})

    again = await client.get("/device", params={"user_code": started.record.user_code})
    unknown = await client.get("/device", params={"user_code": "nope"})

    assert again.status_code == 404
    assert "That code is not valid" in again.text
    assert unknown.status_code == 404


async def test_approving_for_some_channels_only_limits_the_grant_to_them(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    started = await start(app, scope="chat:read")
    await signed_in(client, "alice")
    consent = await client.get("/device", params={"user_code": started.record.user_code})
    assert "Only these channels" in consent.text
    offered = dict((label, value) for value, label in re.findall(
        r'name="value:chat:channels" value="([^"]+)" checked>\s*<span>([^<]+)</span>',
        consent.text))
    assert {"design", "general"} <= offered.keys()

    done = await client.post("/device", data={
        "csrf_token": csrf_token(consent.text), "user_code": started.record.user_code,
        "scope": ["chat:read"], "decision": "approve", "constraint": "chat:channels",
        "offered:chat:channels": list(offered.values()),
        "value:chat:channels": [offered["design"]]})

    assert done.status_code == 200
    row = await record(app, started.record.user_code)

    async def load(db: AsyncSession) -> Grant | None:
        return await db.get(Grant, row.grant_id)
    grant = await in_db(app, load)
    assert grant.constraints == {"chat:channels": [offered["design"]]}


async def test_a_second_device_consent_is_the_same_connection_made_what_was_approved(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    async def two_requests(db: AsyncSession) -> tuple[device.Started, device.Started]:
        agent = await make_agent(db, "Kitchen Display", kind="native")
        return (await device.start(db, agent, scope="chat:read", resource="https://testserver/api"),
                await device.start(db, agent, scope="chat:read rides:read",
                                   resource="https://testserver/api"))
    first, second = await in_db(app, two_requests)
    await signed_in(client, "alice")

    grants = []
    for started in (first, second):
        consent = await client.get("/device", params={"user_code": started.record.user_code})
        done = await client.post("/device", data={
            "csrf_token": csrf_token(consent.text), "user_code": started.record.user_code,
            "scope": started.record.scope.split(), "decision": "approve"})
        assert done.status_code == 200
        grants.append((await record(app, started.record.user_code)).grant_id)

    # The second page said it is connected, and what approving does; one grant, widened.
    assert "Kitchen Display is already connected." in consent.text
    assert grants[0] == grants[1]

    async def load(db: AsyncSession) -> Grant | None:
        return await db.get(Grant, grants[0])
    grant = await in_db(app, load)
    assert (grant.scope, grant.version) == ("chat:read rides:read", 2)
