"""Peeks and dry-runs change nothing a person can observe, whatever an agent does.

Hypothesis draws random sequences of an agent's calls (every chat read, posts,
replies, joins, new channels and DMs, marking read; rides quotes, bookings and
cancellations), reads in the agent's default mode or with ``Prefer: peek`` and
writes with ``Prefer: dry-run``, and sends them through the gateway with the
agent's bearer token. Before and after, it compares every row the chat and rides
services store (read positions, receipts, mentions, presence, messages, members,
quotes, trips) and what alice and bob see through the API: unread and mention
counts, last seen, and the "seen by" on bob's message.

The agent holds every scope, chat:mark_read included: holding it is not asking for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from anyio import from_thread, to_thread
from hypothesis import given, settings
from hypothesis import strategies as st

from seeds.chat import channel_id
from seeds.people import PEOPLE
from tests.gateway.effects.conftest import (
    DESIGN,
    EVERY_SCOPE,
    GENERAL,
    RANDOM,
    Rides,
    TokenFor,
    app_of,
)
from tests.support.agents import bearer, make_grant, mint_access_token
from tests.support.snapshots import snapshot

CHANNELS = [DESIGN, GENERAL, RANDOM, str(channel_id("leadership")),
            str(channel_id("dm:alice,bob"))]
WORDS = ["roadmap", "design", "alice", "thursday", "fonts", "x"]
PEEK = {"Prefer": "peek"}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    prefer: str | None = None

    @property
    def is_read(self) -> bool:
        return self.method == "GET"


@dataclass(frozen=True)
class World:
    """Ids that exist, so calls hit real messages, threads, quotes and trips."""

    message_ids: list[int]
    thread_ids: list[int]
    places: list[str]
    rides: Rides


READ_PREFER = st.sampled_from([None, "peek", "dry-run", "respond-async", "peek; x=1, wait=5"])
WRITE_PREFER = st.sampled_from(["dry-run", "respond-async, dry-run", 'dry-run; why="a, b"'])


def calls(world: World) -> st.SearchStrategy[Call]:
    channel = st.sampled_from(CHANNELS)
    message = st.sampled_from(world.message_ids)
    text = st.sampled_from(["Noted.", "@bob have a look", "Draft for @alice and @carol"])

    def read(path: st.SearchStrategy[str]) -> st.SearchStrategy[Call]:
        return st.builds(Call, st.just("GET"), path, st.none(), READ_PREFER)

    def write(path: st.SearchStrategy[str],
              body: st.SearchStrategy[Any]) -> st.SearchStrategy[Call]:
        return st.builds(Call, st.just("POST"), path, body, WRITE_PREFER)

    return st.one_of(
        read(st.just("/api/chat/channels")),
        read(channel.map(lambda c: f"/api/chat/channels/{c}")),
        read(channel.map(lambda c: f"/api/chat/channels/{c}/messages")),
        read(st.sampled_from(world.thread_ids).map(
            lambda m: f"/api/chat/channels/{GENERAL}/threads/{m}")),
        read(st.sampled_from(WORDS).map(lambda w: f"/api/chat/search?q={w}")),
        read(st.just("/api/chat/mentions")),
        read(st.just("/api/chat/users")),
        read(st.sampled_from(["/api/rides/trips", f"/api/rides/trips/{world.rides.trip_id}",
                              f"/api/rides/quotes/{world.rides.quote_id}"])),
        write(channel.map(lambda c: f"/api/chat/channels/{c}/messages"),
              st.fixed_dictionaries({"text": text})),
        write(st.just(f"/api/chat/channels/{GENERAL}/messages"),
              st.fixed_dictionaries({"text": text, "thread_id": st.sampled_from(
                  world.thread_ids)})),
        write(channel.map(lambda c: f"/api/chat/channels/{c}/read"),
              st.fixed_dictionaries({"message_id": message})),
        write(channel.map(lambda c: f"/api/chat/channels/{c}/join"), st.none()),
        write(st.just("/api/chat/channels"),
              st.fixed_dictionaries({"name": st.sampled_from(["plans", "design"])})),
        write(st.just("/api/chat/dms"),
              st.fixed_dictionaries({"usernames": st.sampled_from([["bob"], ["dave"]])})),
        write(st.just("/api/rides/quotes"), st.fixed_dictionaries({
            "pickup_place_id": st.just(world.places[0]),
            "dropoff_place_id": st.just(world.places[1])})),
        write(st.just("/api/rides/trips"), st.just({"quote_id": str(world.rides.quote_id)})),
        write(st.just(f"/api/rides/trips/{world.rides.trip_id}/cancel"), st.none()),
    )


@pytest.fixture
async def world(client: httpx.AsyncClient, alice: dict[str, str], rides: Rides) -> World:
    general = (await client.get(f"/api/chat/channels/{GENERAL}/messages",
                                headers=alice | PEEK)).json()["items"]
    design = (await client.get(f"/api/chat/channels/{DESIGN}/messages",
                               headers=alice | PEEK)).json()["items"]
    places = (await client.get("/api/rides/places", headers=alice)).json()["items"]
    return World(message_ids=[m["id"] for m in general + design],
                 thread_ids=[m["id"] for m in general if m.get("reply_count")] or
                 [general[0]["id"]],
                 places=[p["id"] for p in places[:2]], rides=rides)


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> dict[str, str]:
    app = app_of(client)
    async with app.state.sessionmaker() as db:
        grant = await make_grant(db, PEOPLE["bob"].id, None, scope="chat:read")
        await db.commit()
    return bearer(await mint_access_token(app, grant))


async def what_people_see(client: httpx.AsyncClient, alice: dict[str, str],
                          bob: dict[str, str]) -> dict[str, Any]:
    """alice's counts and everyone's last seen; the receipts on bob's messages in #design."""
    channels = (await client.get("/api/chat/channels", headers=alice | PEEK)).json()["items"]
    users = (await client.get("/api/chat/users", headers=alice | PEEK)).json()["items"]
    bobs = (await client.get(f"/api/chat/channels/{DESIGN}/messages",
                             headers=bob | PEEK)).json()["items"]
    return {
        "counts": {c["id"]: (c["unread_count"], c["mention_count"]) for c in channels},
        "last_seen": {u["username"]: u["last_seen_at"] for u in users},
        "seen_by": {m["id"]: m.get("seen_by") for m in bobs},
    }


@pytest.fixture
async def assistant(agent: TokenFor) -> dict[str, str]:
    return await agent(EVERY_SCOPE)


async def test_peeks_and_dry_runs_change_nothing_a_person_can_observe(
        client: httpx.AsyncClient, assistant: dict[str, str], alice: dict[str, str],
        bob: dict[str, str], world: World) -> None:
    async def run(sequence: list[Call]) -> None:
        stored = await snapshot(app_of(client))
        seen = await what_people_see(client, alice, bob)

        for call in sequence:
            headers = assistant | ({"Prefer": call.prefer} if call.prefer else {})
            response = await client.request(call.method, call.path, json=call.json,
                                            headers=headers)
            assert response.status_code < 500, (call, response.text)
            assert response.headers["vary"] == "Prefer"
            assert response.headers["preference-applied"] == (
                "peek" if call.is_read else "dry-run"), call

        assert await snapshot(app_of(client)) == stored
        assert await what_people_see(client, alice, bob) == seen

    # Hypothesis drives a plain function; it runs in a worker thread and hands each
    # example back to this test's event loop, where the app and its database live.
    @settings(max_examples=25, deadline=None)
    @given(st.lists(calls(world), min_size=1, max_size=6))
    def every_sequence(sequence: list[Call]) -> None:
        from_thread.run(run, sequence)

    await to_thread.run_sync(every_sequence)
