"""Agents keep their own place (per-agent cursors) and are named when they act (attribution)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.common.txn_token import Actor
from tests.services.chat.support import ALICE, BOB, CAROL, Chat

PLANNER = Actor(sub=f"agent:{uuid.uuid4()}", name="Trip Planner")
SCRIBE = Actor(sub=f"agent:{uuid.uuid4()}", name="Scribe")
# A sub-agent the planner delegated to: it acts now, so it is outermost.
HELPER = Actor(sub=f"agent:{uuid.uuid4()}", name="Helper")
READ = ("chat:read",)


@pytest.fixture
async def design(chat: Chat) -> str:
    """#design: alice, bob and carol; bob and carol have said three things."""
    channel = await chat.channel(ALICE, "design", members=[BOB, CAROL])
    root = await chat.say(BOB, channel, "one")
    await chat.say(CAROL, channel, "two", thread_id=root["id"])
    await chat.say(CAROL, channel, "three @alice")
    return channel


async def agent_call(chat: Chat, method: str, path: str, *actors: Actor,
                     scopes: tuple[str, ...] = READ, effects: str = "peek",
                     channels: list[str] | None = None, **kwargs: Any) -> httpx.Response:
    constraints = {} if channels is None else {"chat:channels": channels}
    return await chat.call(method, path, ALICE, scopes=scopes, actors=list(actors),
                           effects=effects, constraints=constraints, **kwargs)


async def new(chat: Chat, channel: str, *actors: Actor, **params: Any) -> dict[str, Any]:
    response = await agent_call(chat, "GET", f"/channels/{channel}/new", *actors, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def advance(chat: Chat, channel: str, message_id: int, *actors: Actor,
                  effects: str = "peek") -> dict[str, Any]:
    response = await agent_call(chat, "PUT", f"/channels/{channel}/cursor", *actors,
                                effects=effects, json={"message_id": message_id})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def texts(page: dict[str, Any]) -> list[str]:
    return [m["text"] for m in page["items"]]


async def test_new_lists_everything_after_the_cursor_oldest_first(chat: Chat,
                                                                  design: str) -> None:
    page = await new(chat, design, PLANNER)

    assert texts(page) == ["one", "two", "three @alice"]
    assert page["cursor"] == {"channel_id": design, "agent": PLANNER.sub, "last_seen_id": 0,
                              "updated_at": None}
    assert page["has_more"] is False


async def test_advancing_in_peek_moves_only_the_agents_cursor(chat: Chat, design: str) -> None:
    before = await chat.summary(ALICE, design)
    last = (await new(chat, design, PLANNER))["items"][-1]["id"]

    moved = await advance(chat, design, last, PLANNER)
    await chat.say(BOB, design, "four")

    assert moved["last_seen_id"] == last
    assert moved["updated_at"] is not None
    assert texts(await new(chat, design, PLANNER)) == ["four"]
    after = await chat.summary(ALICE, design)
    assert (after["unread_count"], after["mention_count"], after["last_read_id"]) == (
        before["unread_count"] + 1, before["mention_count"], before["last_read_id"])
    assert after["marked_by"] is None
    # bob's message is not "seen by alice": receipts follow her read position only.
    mine = await chat.page(BOB, design, effects="peek")
    assert all("alice" not in [p["username"] for p in m["seen_by"]] for m in mine["items"])


async def test_the_cursor_never_moves_back(chat: Chat, design: str) -> None:
    ids = [m["id"] for m in (await new(chat, design, PLANNER))["items"]]
    await advance(chat, design, ids[2], PLANNER)

    assert (await advance(chat, design, ids[0], PLANNER))["last_seen_id"] == ids[2]


async def test_two_agents_and_a_sub_agent_keep_separate_places(chat: Chat, design: str) -> None:
    ids = [m["id"] for m in (await new(chat, design, PLANNER))["items"]]

    await advance(chat, design, ids[2], PLANNER)
    await advance(chat, design, ids[0], SCRIBE)

    assert texts(await new(chat, design, PLANNER)) == []
    assert texts(await new(chat, design, SCRIBE)) == ["two", "three @alice"]
    # The helper acts for the planner (nested act): a place of its own, not the planner's.
    helper = await new(chat, design, HELPER, PLANNER)
    assert helper["cursor"]["agent"] == HELPER.sub
    assert texts(helper) == ["one", "two", "three @alice"]


async def test_cursors_are_per_person(chat: Chat, design: str) -> None:
    ids = [m["id"] for m in (await new(chat, design, PLANNER))["items"]]
    await advance(chat, design, ids[2], PLANNER)

    bobs = await chat.call("GET", f"/channels/{design}/new", BOB, scopes=READ,
                           actors=[PLANNER], effects="peek")

    assert texts(bobs.json()) == ["one", "two", "three @alice"]


async def test_paging_with_after_and_limit(chat: Chat, design: str) -> None:
    first = await new(chat, design, PLANNER, limit=2)
    rest = await new(chat, design, PLANNER, limit=2, after=first["items"][-1]["id"])

    assert (texts(first), first["has_more"]) == (["one", "two"], True)
    assert (texts(rest), rest["has_more"]) == (["three @alice"], False)
    assert rest["cursor"]["last_seen_id"] == 0


async def test_a_dry_run_leaves_the_cursor(chat: Chat, design: str) -> None:
    last = (await new(chat, design, PLANNER))["items"][-1]["id"]

    result = await advance(chat, design, last, PLANNER, effects="dry-run")

    assert result["last_seen_id"] == last
    assert (await new(chat, design, PLANNER))["cursor"]["last_seen_id"] == 0


async def test_advancing_to_a_message_elsewhere_is_refused(chat: Chat, design: str) -> None:
    other = await chat.channel(BOB, "other")
    elsewhere = await chat.say(BOB, other, "not in design")

    response = await agent_call(chat, "PUT", f"/channels/{design}/cursor", PLANNER,
                                json={"message_id": elsewhere["id"]})

    assert response.status_code == 422, response.text


async def test_a_constraint_hides_other_channels(chat: Chat, design: str) -> None:
    general = await chat.channel(ALICE, "general", members=[BOB])
    said = await chat.say(BOB, general, "hidden")

    listed = await agent_call(chat, "GET", f"/channels/{general}/new", PLANNER,
                              channels=[design])
    moved = await agent_call(chat, "PUT", f"/channels/{general}/cursor", PLANNER,
                             channels=[design], json={"message_id": said["id"]})
    allowed = await agent_call(chat, "GET", f"/channels/{design}/new", PLANNER,
                               channels=[design])

    assert (listed.status_code, moved.status_code, allowed.status_code) == (404, 404, 200)


async def test_the_person_has_a_cursor_of_their_own(chat: Chat, design: str) -> None:
    page = await chat.ok("GET", f"/channels/{design}/new", ALICE, effects="peek")

    assert page["cursor"]["agent"] == "self"
    assert len(page["items"]) == 3


# --- who marked read ----------------------------------------------------------------------

async def test_mark_read_by_an_agent_records_it(chat: Chat, design: str) -> None:
    last = (await new(chat, design, PLANNER))["items"][-1]["id"]

    response = await agent_call(chat, "POST", f"/channels/{design}/read", PLANNER,
                                scopes=("chat:read", "chat:mark_read"), effects="live",
                                json={"message_id": last})

    assert response.status_code == 200, response.text
    marked = {"agent": PLANNER.sub, "name": "Trip Planner"}
    assert response.json()["marked_by"] == marked
    summary = await chat.summary(ALICE, design)
    assert (summary["unread_count"], summary["marked_by"]) == (0, marked)


async def test_a_live_read_by_an_agent_records_it_too(chat: Chat, design: str) -> None:
    response = await agent_call(chat, "GET", f"/channels/{design}/messages", HELPER, PLANNER,
                                scopes=("chat:read", "chat:mark_read"), effects="live")

    assert response.status_code == 200, response.text
    summary = await chat.summary(ALICE, design)
    assert (summary["unread_count"], summary["marked_by"]) == (
        0, {"agent": HELPER.sub, "name": "Helper"})


async def test_a_peek_read_by_an_agent_records_nothing(chat: Chat, design: str) -> None:
    await agent_call(chat, "GET", f"/channels/{design}/messages", PLANNER)

    summary = await chat.summary(ALICE, design)
    assert (summary["unread_count"], summary["marked_by"]) == (2, None)


async def test_the_persons_own_read_clears_marked_by(chat: Chat, design: str) -> None:
    first = (await new(chat, design, PLANNER))["items"][0]["id"]
    await agent_call(chat, "POST", f"/channels/{design}/read", PLANNER, effects="live",
                     scopes=("chat:mark_read",), json={"message_id": first})
    await chat.say(BOB, design, "four")

    await chat.page(ALICE, design)

    assert (await chat.summary(ALICE, design))["marked_by"] is None


async def test_mark_read_by_the_person_says_nobody_else(chat: Chat, design: str) -> None:
    last = (await new(chat, design, PLANNER))["items"][-1]["id"]

    state = await chat.ok("POST", f"/channels/{design}/read", ALICE, json={"message_id": last})

    assert state["marked_by"] is None


# --- attribution --------------------------------------------------------------------------

async def test_a_message_an_agent_posts_shows_via_the_agent(chat: Chat, design: str) -> None:
    response = await agent_call(chat, "POST", f"/channels/{design}/messages", HELPER, PLANNER,
                                scopes=("chat:write",), effects="live", json={"text": "booked"})

    assert response.status_code == 201, response.text
    posted = response.json()
    via = {"agent": HELPER.sub, "name": "Helper"}
    assert (posted["author"]["username"], posted["via"]) == ("alice", via)
    # Everyone sees it so, in the channel and in its thread.
    seen = (await chat.page(BOB, design, effects="peek"))["items"][0]
    assert (seen["id"], seen["via"]) == (posted["id"], via)
    reply = await chat.say(ALICE, design, "thanks", thread_id=posted["id"])
    thread = await chat.ok("GET", f"/channels/{design}/threads/{posted['id']}", CAROL,
                           effects="peek")
    assert thread["parent"]["via"] == via
    assert (thread["replies"][0]["id"], thread["replies"][0]["via"]) == (reply["id"], None)


async def test_an_unnamed_agent_is_shown_by_its_id(chat: Chat, design: str) -> None:
    anonymous = Actor(sub=f"agent:{uuid.uuid4()}")

    response = await agent_call(chat, "POST", f"/channels/{design}/messages", anonymous,
                                scopes=("chat:write",), effects="live", json={"text": "hi"})

    assert response.json()["via"] == {"agent": anonymous.sub, "name": anonymous.sub}
