"""Read state: unread and mention counts, live reads vs peeks, receipts, presence, dry-runs."""

from __future__ import annotations

import pytest

from tests.services.chat.support import ALICE, BOB, CAROL, Chat, Clock


@pytest.fixture
async def design(chat: Chat) -> str:
    """#design: alice, bob and carol."""
    return await chat.channel(ALICE, "design", members=[BOB, CAROL])


async def counts(chat: Chat, person: object, channel_id: str) -> tuple[int, int]:
    summary = await chat.summary(person, channel_id)  # type: ignore[arg-type]
    return summary["unread_count"], summary["mention_count"]


async def test_unread_counts_others_top_level_messages(chat: Chat, design: str) -> None:
    root = await chat.say(BOB, design, "one")
    await chat.say(CAROL, design, "two @alice")
    await chat.say(ALICE, design, "mine")
    await chat.say(BOB, design, "a reply @alice", thread_id=root["id"])

    # alice's own message moved her position past "one" and "two".
    assert await counts(chat, ALICE, design) == (0, 1)
    await chat.say(BOB, design, "three")
    assert await counts(chat, ALICE, design) == (1, 1)
    assert await counts(chat, CAROL, design) == (2, 0)


async def test_live_read_marks_read_and_acknowledges_mentions(chat: Chat, design: str) -> None:
    root = await chat.say(BOB, design, "hey @alice")
    await chat.say(CAROL, design, "in thread @alice", thread_id=root["id"])
    assert await counts(chat, ALICE, design) == (1, 2)

    await chat.page(ALICE, design)

    assert await counts(chat, ALICE, design) == (0, 0)


async def test_peek_read_leaves_unread_count(chat: Chat, design: str) -> None:
    await chat.say(BOB, design, "hey @alice")

    page = await chat.page(ALICE, design, effects="peek")

    assert [m["text"] for m in page["items"]] == ["hey @alice"]
    assert await counts(chat, ALICE, design) == (1, 1)


async def test_peek_changes_nothing_anywhere(chat: Chat, design: str, clock: Clock) -> None:
    mine = await chat.say(BOB, design, "hey @alice")
    clock.advance(hours=1)
    before = (await chat.summary(ALICE, design), await chat.ok("GET", "/users", BOB),
              await chat.page(BOB, design, effects="peek"))

    for path in ("/channels", f"/channels/{design}", f"/channels/{design}/messages",
                 f"/channels/{design}/threads/{mine['id']}", "/users", "/mentions"):
        await chat.ok("GET", path, ALICE, effects="peek")
    await chat.ok("GET", "/search", ALICE, params={"q": "hey"}, effects="peek")

    after = (await chat.summary(ALICE, design), await chat.ok("GET", "/users", BOB),
             await chat.page(BOB, design, effects="peek"))
    assert after == before


async def test_older_page_does_not_mark_read(chat: Chat, design: str) -> None:
    for n in range(3):
        await chat.say(BOB, design, f"m{n}")
    first = await chat.page(ALICE, design, params={"limit": 1}, effects="peek")

    await chat.page(ALICE, design, params={"limit": 1, "cursor": first["next_cursor"]})

    assert await counts(chat, ALICE, design) == (3, 0)


async def test_reading_unjoined_public_channel_tracks_nothing(chat: Chat) -> None:
    random = await chat.channel(BOB, "random")
    await chat.say(BOB, random, "hi")

    await chat.page(ALICE, random)

    summary = await chat.summary(ALICE, random)
    assert (summary["is_member"], summary["unread_count"], summary["last_read_id"]) == (
        False, 0, 0)


async def test_mark_read_moves_position_forward_only(chat: Chat, design: str) -> None:
    first = await chat.say(BOB, design, "one")
    second = await chat.say(BOB, design, "two @alice")
    await chat.say(BOB, design, "three")

    state = await chat.ok("POST", f"/channels/{design}/read", ALICE,
                          json={"message_id": second["id"]})
    back = await chat.ok("POST", f"/channels/{design}/read", ALICE,
                         json={"message_id": first["id"]})

    assert state == {"channel_id": design, "last_read_id": second["id"], "unread_count": 1,
                     "mention_count": 0, "marked_by": None}
    assert back == state


async def test_mark_read_needs_a_message_of_this_channel(chat: Chat, design: str) -> None:
    other = await chat.channel(ALICE, "other")
    elsewhere = await chat.say(ALICE, other, "x")

    for message_id in (elsewhere["id"], 123456):
        response = await chat.post(f"/channels/{design}/read", ALICE, {"message_id": message_id})
        assert response.status_code == 422


async def test_mark_read_needs_the_mark_read_scope(chat: Chat, design: str) -> None:
    message = await chat.say(BOB, design, "one")

    response = await chat.post(f"/channels/{design}/read", ALICE, {"message_id": message["id"]},
                               scopes=["chat:read", "chat:write"])

    assert response.status_code == 403
    assert response.json()["missing_scopes"] == ["chat:mark_read"]
    assert await counts(chat, ALICE, design) == (1, 0)


async def test_sender_sees_who_has_read_their_message(chat: Chat, design: str) -> None:
    mine = await chat.say(BOB, design, "ship it?")
    assert (await chat.page(BOB, design))["items"][0]["seen_by"] == []

    await chat.page(ALICE, design)

    [seen] = (await chat.page(BOB, design))["items"]
    assert seen["id"] == mine["id"]
    assert [p["username"] for p in seen["seen_by"]] == ["alice"]
    # Receipts are the sender's: alice sees none on bob's message.
    assert (await chat.page(ALICE, design))["items"][0]["seen_by"] == []


async def test_peek_sends_no_read_receipt(chat: Chat, design: str) -> None:
    await chat.say(BOB, design, "ship it?")

    await chat.page(ALICE, design, effects="peek")

    assert (await chat.page(BOB, design))["items"][0]["seen_by"] == []


async def test_posting_moves_own_position_but_a_reply_does_not(chat: Chat, design: str) -> None:
    root = await chat.say(BOB, design, "one")
    await chat.say(ALICE, design, "reply", thread_id=root["id"])
    assert (await chat.summary(ALICE, design))["unread_count"] == 1

    mine = await chat.say(ALICE, design, "top")

    assert (await chat.summary(ALICE, design))["last_read_id"] == mine["id"]


async def last_seen(chat: Chat, username: str) -> str | None:
    users = (await chat.ok("GET", "/users", BOB, effects="peek"))["items"]
    found: str | None = next(u["last_seen_at"] for u in users if u["username"] == username)
    return found


async def test_presence_is_updated_by_live_calls_at_most_once_a_minute(
        chat: Chat, design: str, clock: Clock) -> None:
    await chat.page(ALICE, design)
    assert await last_seen(chat, "alice") == "2026-03-02T09:00:00Z"

    clock.advance(seconds=59)
    await chat.page(ALICE, design)
    assert await last_seen(chat, "alice") == "2026-03-02T09:00:00Z"

    clock.advance(seconds=1)
    await chat.ok("GET", "/channels", ALICE)
    assert await last_seen(chat, "alice") == "2026-03-02T09:01:00Z"


async def test_peek_does_not_update_presence(chat: Chat, clock: Clock) -> None:
    clock.advance(hours=2)

    await chat.ok("GET", "/channels", CAROL, effects="peek")

    assert await last_seen(chat, "carol") is None


async def test_dry_run_post_validates_and_stores_nothing(chat: Chat, design: str) -> None:
    response = await chat.post(f"/channels/{design}/messages", ALICE,
                               {"text": "draft @bob"}, effects="dry-run")

    assert response.status_code == 201
    assert response.json()["mentions"] == ["bob"]
    assert (await chat.page(ALICE, design, effects="peek"))["items"] == []
    assert (await chat.ok("GET", "/mentions", BOB))["items"] == []
    bad = await chat.post(f"/channels/{design}/messages", ALICE, {"text": ""}, effects="dry-run")
    assert bad.status_code == 422


async def test_dry_run_create_channel_stores_nothing(chat: Chat) -> None:
    response = await chat.post("/channels", ALICE, {"name": "maybe"}, effects="dry-run")

    assert response.status_code == 201
    assert (await chat.ok("GET", "/channels", ALICE))["items"] == []


async def test_channel_list_shows_counts_and_last_message(chat: Chat, design: str,
                                                          clock: Clock) -> None:
    clock.advance(minutes=3)
    await chat.say(BOB, design, "hi @alice")

    [entry] = (await chat.ok("GET", "/channels", ALICE))["items"]

    assert entry | {"unread_count": 1, "mention_count": 1, "is_member": True,
                    "last_message_at": "2026-03-02T09:03:00Z"} == entry
