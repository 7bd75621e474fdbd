"""Channel constraints: a call limited to some channels behaves as if only those existed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.chat.app import create_app
from services.common.txn_token import Actor
from tests.services.chat.support import ALICE, BOB, CAROL, Chat
from tests.support.txn import Signer

AGENT = Actor(sub=f"agent:{uuid.uuid4()}", name="Trip Planner")
READ = ("chat:read",)
ALL = ("chat:read", "chat:write", "chat:mark_read")


@dataclass
class Workspace:
    """#general and #design, each with an @alice mention, a thread and the word "roadmap"."""

    general: str
    design: str
    general_thread: int
    design_thread: int


@pytest.fixture
async def ws(chat: Chat) -> Workspace:
    general = await chat.channel(ALICE, "general", members=[BOB, CAROL])
    design = await chat.channel(ALICE, "design", members=[BOB, CAROL])
    g = await chat.say(BOB, general, "@alice the roadmap slides for all-hands?")
    await chat.say(CAROL, general, "Recorded, yes.", thread_id=g["id"])
    d = await chat.say(CAROL, design, "@alice roadmap colours are in Figma.")
    await chat.say(BOB, design, "Looks good.", thread_id=d["id"])
    return Workspace(general, design, g["id"], d["id"])


async def as_agent(chat: Chat, method: str, path: str, channels: list[str] | None, *,
                   scopes: tuple[str, ...] = READ, effects: str = "peek",
                   **kwargs: Any) -> httpx.Response:
    """Call as an agent acting for alice, limited to ``channels`` (None: no limit)."""
    constraints = {} if channels is None else {"chat:channels": channels}
    return await chat.call(method, path, ALICE, scopes=scopes, actors=[AGENT],
                           constraints=constraints, effects=effects, **kwargs)


async def titles(chat: Chat, channels: list[str] | None) -> list[str]:
    response = await as_agent(chat, "GET", "/channels", channels)
    assert response.status_code == 200, response.text
    return [c["title"] for c in response.json()["items"]]


def is_hidden(response: httpx.Response) -> None:
    """The answer for a channel that does not exist, member for member."""
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    body.pop("instance", None)
    assert body == {"type": "/problems/not-found", "title": "Not found", "status": 404,
                    "detail": "No such channel."}


async def test_limited_agent_lists_only_its_channels_with_their_counts(
        chat: Chat, ws: Workspace) -> None:
    listed = (await as_agent(chat, "GET", "/channels", [ws.design])).json()["items"]

    assert [c["title"] for c in listed] == ["design"]
    assert listed[0]["mention_count"] == 1
    assert listed[0]["unread_count"] == 1


async def test_limited_agent_reads_its_channel_and_threads(chat: Chat, ws: Workspace) -> None:
    detail = await as_agent(chat, "GET", f"/channels/{ws.design}", [ws.design])
    page = await as_agent(chat, "GET", f"/channels/{ws.design}/messages", [ws.design])
    thread = await as_agent(chat, "GET", f"/channels/{ws.design}/threads/{ws.design_thread}",
                            [ws.design])

    assert detail.status_code == page.status_code == thread.status_code == 200
    assert [m["text"] for m in page.json()["items"]] == ["@alice roadmap colours are in Figma."]
    assert [r["text"] for r in thread.json()["replies"]] == ["Looks good."]


async def test_channel_outside_the_limit_answers_like_one_that_does_not_exist(
        chat: Chat, ws: Workspace) -> None:
    general, nowhere = ws.general, str(uuid.uuid4())
    for channel in (general, nowhere):
        for path in (f"/channels/{channel}", f"/channels/{channel}/messages",
                     f"/channels/{channel}/threads/{ws.general_thread}"):
            is_hidden(await as_agent(chat, "GET", path, [ws.design], scopes=ALL))
        for path, body in ((f"/channels/{channel}/join", None),
                           (f"/channels/{channel}/messages", {"text": "hi"}),
                           (f"/channels/{channel}/read", {"message_id": ws.general_thread}),
                           (f"/channels/{channel}/members", {"usernames": ["bob"]})):
            is_hidden(await as_agent(chat, "POST", path, [ws.design], scopes=ALL, json=body))


async def test_a_thread_is_reached_only_through_its_own_channel(
        chat: Chat, ws: Workspace) -> None:
    response = await as_agent(chat, "GET", f"/channels/{ws.design}/threads/{ws.general_thread}",
                              [ws.design])

    assert response.status_code == 404
    assert response.json()["detail"] == "No such message in this channel."


async def test_search_leaves_out_channels_outside_the_limit(chat: Chat, ws: Workspace) -> None:
    limited = await as_agent(chat, "GET", "/search", [ws.design], params={"q": "roadmap"})
    unlimited = await as_agent(chat, "GET", "/search", None, params={"q": "roadmap"})

    assert [h["channel"]["title"] for h in limited.json()["items"]] == ["design"]
    assert sorted(h["channel"]["title"] for h in unlimited.json()["items"]) == [
        "design", "general"]


async def test_mentions_leave_out_channels_outside_the_limit(chat: Chat, ws: Workspace) -> None:
    mentions = (await as_agent(chat, "GET", "/mentions", [ws.design])).json()["items"]

    assert [m["channel_id"] for m in mentions] == [ws.design]


async def test_limited_agent_posts_and_marks_read_in_its_channel(
        chat: Chat, ws: Workspace) -> None:
    posted = await as_agent(chat, "POST", f"/channels/{ws.design}/messages", [ws.design],
                            scopes=ALL, effects="live", json={"text": "Noted."})
    newer = await chat.say(BOB, ws.design, "One more thing.")
    read = await as_agent(chat, "POST", f"/channels/{ws.design}/read", [ws.design], scopes=ALL,
                          effects="live", json={"message_id": newer["id"]})

    assert posted.status_code == 201, posted.text
    assert read.status_code == 200, read.text
    assert read.json()["last_read_id"] == newer["id"]


async def test_absent_constraint_means_no_limit_and_empty_list_means_no_channel(
        chat: Chat, ws: Workspace) -> None:
    assert sorted(await titles(chat, None)) == ["design", "general"]
    assert await titles(chat, []) == []
    is_hidden(await as_agent(chat, "GET", f"/channels/{ws.design}", []))
    assert (await as_agent(chat, "GET", "/mentions", [])).json()["items"] == []


async def test_an_id_that_names_no_channel_reaches_nothing(chat: Chat, ws: Workspace) -> None:
    assert await titles(chat, ["not-a-uuid", str(uuid.uuid4()), ws.design]) == ["design"]


async def test_limited_agent_cannot_create_channels(chat: Chat, ws: Workspace) -> None:
    response = await as_agent(chat, "POST", "/channels", [ws.design], scopes=ALL,
                              json={"name": "shadow"})

    assert response.status_code == 403
    assert response.json()["constraint"] == "chat:channels"
    assert "shadow" not in await titles(chat, None)


async def test_limited_agent_opens_only_a_conversation_on_its_list(chat: Chat,
                                                                    ws: Workspace) -> None:
    dm = await chat.ok("POST", "/dms", ALICE, json={"usernames": ["bob"]})

    on_list = await as_agent(chat, "POST", "/dms", [dm["id"]], scopes=ALL,
                             json={"usernames": ["bob"]})
    existing = await as_agent(chat, "POST", "/dms", [ws.design], scopes=ALL,
                              json={"usernames": ["bob"]})
    new = await as_agent(chat, "POST", "/dms", [ws.design], scopes=ALL,
                         json={"usernames": ["carol"]})

    assert on_list.status_code == 200
    assert on_list.json()["id"] == dm["id"]
    # Whether the conversation exists or not, the refusal is the same.
    assert existing.status_code == new.status_code == 403
    assert existing.json()["detail"] == new.json()["detail"]
    assert "Carol Diaz" not in await titles(chat, None)


def test_openapi_declares_the_channels_constraint() -> None:
    signer = Signer()
    app = create_app(database_url="sqlite+aiosqlite:///:memory:", issuer=signer.issuer,
                     keys=signer.keys)

    declared = app.openapi()["x-constraints"]

    assert declared["chat:channels"]["description"] == "Only these channels"
    assert declared["chat:channels"]["choices"]["operation_id"] == "list_channels"
    assert "chat:read" in declared["chat:channels"]["applies_to"]
