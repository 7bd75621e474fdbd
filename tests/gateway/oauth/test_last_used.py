"""When a grant and its agent last acted: bumped on use, at most once a minute."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import update

from gateway.identity.models import Agent, Grant
from seeds.agents import CALENDAR_HELPER, TRIP_PLANNER_GRANT
from services.common.db import utcnow
from tests.gateway.oauth.test_token_exchange import _app, claims_of, exchange
from tests.support.agents import bearer, mint_access_token


async def last_used(client: httpx.AsyncClient, grant_id: uuid.UUID) -> tuple[
        dt.datetime | None, dt.datetime | None]:
    async with _app(client).state.sessionmaker() as db:
        grant = await db.get(Grant, grant_id)
        agent = await db.get(Agent, CALENDAR_HELPER.id)
    assert grant is not None
    assert agent is not None
    return grant.last_used_at, agent.last_used_at


async def test_a_sub_agents_call_marks_its_grant_and_agent_once_a_minute(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    parent = await mint_access_token(app, TRIP_PLANNER_GRANT)
    child = (await exchange(client, parent, scope="chat:read")).json()["access_token"]
    grant_id = uuid.UUID(claims_of(app, child)["grant_id"])
    an_hour_ago = utcnow() - dt.timedelta(hours=1)
    async with app.state.sessionmaker() as db, db.begin():
        await db.execute(update(Grant).where(Grant.id == grant_id)
                         .values(last_used_at=an_hour_ago))
        await db.execute(update(Agent).where(Agent.id == CALENDAR_HELPER.id)
                         .values(last_used_at=an_hour_ago))

    assert (await client.get("/api/chat/channels", headers=bearer(child))).status_code == 200
    first = await last_used(client, grant_id)
    assert (await client.get("/api/chat/channels", headers=bearer(child))).status_code == 200
    second = await last_used(client, grant_id)

    assert first[0] is not None
    assert first[0] > an_hour_ago
    assert first[1] is not None
    assert first[1] > an_hour_ago
    # Within the minute: no second write.
    assert second == first
