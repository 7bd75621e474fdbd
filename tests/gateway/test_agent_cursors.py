"""Through the gateway with agents' bearer tokens: their own place, who marked read, "via".

The seeded Trip Planner acts for alice limited to #design; Calendar Helper is its
sub-agent (a nested ``act``). Each has its own cursor, apart from alice's read position.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.identity.models import Grant
from seeds.agents import CALENDAR_HELPER, CALENDAR_HELPER_GRANT, TRIP_PLANNER, TRIP_PLANNER_GRANT
from seeds.chat import channel_id
from seeds.people import PEOPLE
from tests.support.agents import bearer, make_grant, mint_access_token
from tests.web.conftest import signed_in

DESIGN = str(channel_id("design"))
GENERAL = str(channel_id("general"))
PLANNER = {"agent": f"agent:{TRIP_PLANNER.id}", "name": "Trip Planner"}


def _app(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def token_for(client: httpx.AsyncClient, grant: Any) -> dict[str, str]:
    return bearer(await mint_access_token(_app(client), grant))


async def planner_with(client: httpx.AsyncClient, scope: str) -> dict[str, str]:
    """A grant of alice's to Trip Planner with ``scope`` (unlimited channels)."""
    async with _app(client).state.sessionmaker() as db:
        grant: Grant = await make_grant(db, PEOPLE["alice"].id, None, scope=scope)
        grant.agent_id = TRIP_PLANNER.id
        await db.commit()
    return await token_for(client, grant.id)


async def ok(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str],
             **kwargs: Any) -> Any:
    response = await client.request(method, f"/api/chat{path}", headers=headers, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def text_of(page: str) -> str:
    """The page's text with tags dropped and spaces collapsed, as a person reads it."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def test_an_agent_advances_its_cursor_and_alices_unread_count_stays(
        client: httpx.AsyncClient) -> None:
    planner = await token_for(client, TRIP_PLANNER_GRANT)
    before = await ok(client, "GET", f"/channels/{DESIGN}", planner)

    new = await ok(client, "GET", f"/channels/{DESIGN}/new", planner, params={"limit": 200})
    last = new["items"][-1]["id"]
    moved = await ok(client, "PUT", f"/channels/{DESIGN}/cursor", planner,
                     json={"message_id": last})
    again = await ok(client, "GET", f"/channels/{DESIGN}/new", planner)
    after = await ok(client, "GET", f"/channels/{DESIGN}", planner)

    assert new["cursor"]["agent"] == PLANNER["agent"]
    assert moved["last_seen_id"] == last
    assert again["items"] == []
    assert after["unread_count"] == before["unread_count"] == 5
    assert after["last_read_id"] == before["last_read_id"]


async def test_the_sub_agent_keeps_its_own_place(client: httpx.AsyncClient) -> None:
    planner = await token_for(client, TRIP_PLANNER_GRANT)
    helper = await token_for(client, CALENDAR_HELPER_GRANT)
    everything = await ok(client, "GET", f"/channels/{DESIGN}/new", helper, params={"limit": 200})
    await ok(client, "PUT", f"/channels/{DESIGN}/cursor", planner,
             json={"message_id": everything["items"][-1]["id"]})

    seen_by_helper = await ok(client, "GET", f"/channels/{DESIGN}/new", helper,
                              params={"limit": 200})

    assert seen_by_helper["cursor"]["agent"] == f"agent:{CALENDAR_HELPER.id}"
    assert seen_by_helper["items"] == everything["items"]


async def test_the_channel_constraint_hides_other_channels(client: httpx.AsyncClient) -> None:
    planner = await token_for(client, TRIP_PLANNER_GRANT)

    listed = await client.get(f"/api/chat/channels/{GENERAL}/new", headers=planner)
    moved = await client.put(f"/api/chat/channels/{GENERAL}/cursor", headers=planner,
                             json={"message_id": 1})

    assert (listed.status_code, moved.status_code) == (404, 404)


async def test_mark_read_by_an_agent_shows_who_did_it(client: httpx.AsyncClient) -> None:
    planner = await planner_with(client, "chat:read chat:mark_read")
    newest = (await ok(client, "GET", f"/channels/{DESIGN}/new", planner,
                       params={"limit": 200}))["items"][-1]["id"]

    state = await ok(client, "POST", f"/channels/{DESIGN}/read", planner,
                     json={"message_id": newest})
    await signed_in(client, "alice")
    page = await client.get(f"/chat/{DESIGN}")

    assert (state["unread_count"], state["marked_by"]) == (0, PLANNER)
    assert page.status_code == 200
    assert "Marked read by Trip Planner" in text_of(page.text)


async def test_a_posted_message_shows_the_person_via_the_agent(
        client: httpx.AsyncClient) -> None:
    planner = await planner_with(client, "chat:read chat:write")

    posted = await ok(client, "POST", f"/channels/{DESIGN}/messages", planner,
                      json={"text": "Booked the 9:40 train"})
    await signed_in(client, "bob")
    channel = await client.get(f"/chat/{DESIGN}")
    reply = await client.get(f"/chat/{DESIGN}/threads/{posted['id']}")

    assert (posted["author"]["username"], posted["via"]) == ("alice", PLANNER)
    assert "Alice Martin via Trip Planner" in text_of(channel.text)
    assert "Alice Martin via Trip Planner" in text_of(reply.text)
