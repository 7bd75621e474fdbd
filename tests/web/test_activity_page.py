"""The Activity page: a person's own record, their agents' calls among it, filterable by agent."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.activity.recorder import ActivityRecorder
from seeds.agents import TRIP_PLANNER, TRIP_PLANNER_GRANT
from seeds.chat import channel_id
from seeds.people import PEOPLE
from services.common.db import utcnow
from tests.support.agents import bearer, mint_access_token
from tests.web.conftest import api, signed_in

DESIGN = channel_id("design")
TRIP_PLANNER_SUB = f"agent:{TRIP_PLANNER.id}"
_ROW = re.compile(r'<tr data-testid="activity-entry".*?</tr>', re.S)


def rows(page: str) -> list[str]:
    return _ROW.findall(page)


async def _agent_reads_design(app: FastAPI, client: httpx.AsyncClient) -> None:
    token = bearer(await mint_access_token(app, TRIP_PLANNER_GRANT))
    assert (await client.get("/api/chat/channels", headers=token)).status_code == 200
    read = await client.get(f"/api/chat/channels/{DESIGN}/messages", headers=token)
    assert read.status_code == 200, read.text


async def test_the_page_shows_the_persons_calls_and_their_agents(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    await _agent_reads_design(app, client)

    page = await client.get("/activity")

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert '<a href="/activity" aria-current="page">Activity</a>' in page.text
    shown = rows(page.text)
    newest = shown[0]
    assert "Trip Planner for you" in newest
    assert re.search(r"Trip Planner read \d+ messages in #design \(peek: nothing marked read\)",
                     newest)
    assert 'data-testid="mode">peek<' in newest
    assert "done" in newest
    # Signing in opened the chat page: alice's own calls, through the same pipeline.
    assert any(">You<" in row and "Alice Martin listed" in row for row in shown)


async def test_the_page_filters_by_agent_and_just_me(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    await _agent_reads_design(app, client)

    everyone = await client.get("/activity")
    agent_only = await client.get("/activity", params={"agent": TRIP_PLANNER_SUB})
    just_me = await client.get("/activity", params={"agent": "me"})

    assert f'<option value="{TRIP_PLANNER_SUB}" >Trip Planner</option>' in everyone.text
    assert len(rows(everyone.text)) == len(rows(agent_only.text)) + len(rows(just_me.text))
    assert rows(agent_only.text)
    assert all("Trip Planner for you" in row for row in rows(agent_only.text))
    assert rows(just_me.text)
    assert all(">You<" in row for row in rows(just_me.text))
    assert f'<option value="{TRIP_PLANNER_SUB}" selected>' in agent_only.text


async def test_a_refusal_shows_as_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    token = bearer(await mint_access_token(app, TRIP_PLANNER_GRANT))
    await client.post(f"/api/chat/channels/{DESIGN}/messages", json={"text": "hi"}, headers=token)

    newest = rows((await client.get("/activity")).text)[0]

    assert "Trip Planner was refused: missing scope chat:write" in newest
    assert "refused, 403 (insufficient scope)" in newest


async def test_another_persons_entries_are_never_shown(
        app: FastAPI, client: httpx.AsyncClient, other_client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    await signed_in(other_client, "bob")
    await api(other_client, "GET", "/api/chat/users")

    alices = await client.get("/activity")
    bobs = await other_client.get("/activity")

    assert "Bob Chen" not in alices.text
    assert "Alice Martin" not in bobs.text.replace('data-testid="whoami">Bob Chen', "")
    assert any("Bob Chen listed" in row for row in rows(bobs.text))
    assert all("Trip Planner" not in row for row in rows(bobs.text))


async def test_no_token_reaches_the_page(app: FastAPI, client: httpx.AsyncClient) -> None:
    agent = bearer(await mint_access_token(app, TRIP_PLANNER_GRANT))

    response = await client.get("/activity", headers=agent)

    assert response.status_code == 403
    assert "no token can" in response.text
    assert "activity-entry" not in response.text


async def test_signed_out_goes_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/activity")

    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")


async def test_the_page_is_paginated_newest_first(app: FastAPI, client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")
    recorder: ActivityRecorder = app.state.activity
    await recorder.flush()
    alice = PEOPLE["alice"].id

    def entry(n: int) -> dict[str, Any]:
        return {"at": utcnow(), "user_id": alice, "via": "token",
                "actors": [{"sub": TRIP_PLANNER_SUB, "name": "Trip Planner"}],
                "agent_sub": TRIP_PLANNER_SUB, "service": "rides", "operation_id": "get_trip",
                "method": "GET", "path": "/trips/x", "effects": "peek", "status": 200,
                "problem_type": None, "summary": f"Trip Planner looked at trip number {n}",
                "request_id": f"r{n}"}

    await recorder.append([entry(n) for n in range(60)])

    first = await client.get("/activity", params={"agent": TRIP_PLANNER_SUB})
    shown = rows(first.text)
    assert len(shown) == 50
    assert "trip number 59" in shown[0]
    assert "trip number 10" in shown[-1]
    older = re.search(r'<a href="([^"]+)" rel="next"', first.text)
    assert older is not None
    second = await client.get(older.group(1).replace("&amp;", "&"))
    rest = [r for r in rows(second.text) if "trip number" in r]
    assert len(rest) == 10
    assert "trip number 9<" in rest[0]
    assert "trip number 0<" in rest[-1]
    assert 'rel="next"' not in second.text
