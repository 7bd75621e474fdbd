"""Messages: posting, validation, pagination, threads and @mentions."""

from __future__ import annotations

import pytest

from tests.services.chat.support import ALICE, BOB, CAROL, DAVE, Chat, Clock


@pytest.fixture
async def design(chat: Chat) -> str:
    """#design: alice, bob and carol."""
    return await chat.channel(ALICE, "design", members=[BOB, CAROL])


async def test_posted_message_has_the_full_shape(chat: Chat, design: str, clock: Clock) -> None:
    response = await chat.post(f"/channels/{design}/messages", BOB, {"text": "hello @alice"})

    assert response.status_code == 201
    message = response.json()
    assert message == {
        "id": message["id"], "channel_id": design,
        "author": {"id": BOB.id, "username": "bob", "name": "Bob Chen"},
        "text": "hello @alice", "created_at": "2026-03-02T09:00:00Z", "thread_id": None,
        "reply_count": 0, "last_reply_at": None, "mentions": ["alice"], "seen_by": [],
        "via": None,
    }


async def test_messages_page_newest_first_through_all_pages(chat: Chat, design: str) -> None:
    posted = [(await chat.say(ALICE, design, f"m{n}"))["id"] for n in range(7)]

    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await chat.page(BOB, design, params=params, effects="peek")
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == posted[::-1]


async def test_new_messages_between_pages_are_not_repeated(chat: Chat, design: str) -> None:
    for n in range(4):
        await chat.say(ALICE, design, f"m{n}")
    first = await chat.page(BOB, design, params={"limit": 2}, effects="peek")
    await chat.say(ALICE, design, "late")

    second = await chat.page(BOB, design, params={"limit": 2, "cursor": first["next_cursor"]},
                             effects="peek")

    assert [m["text"] for m in first["items"] + second["items"]] == ["m3", "m2", "m1", "m0"]


@pytest.mark.parametrize(("text", "why"), [
    ("", "empty"), ("   \n", "blank"), ("x" * 4001, "too long"), ("bell\x07", "control char"),
])
async def test_bad_text_is_422_and_stores_nothing(chat: Chat, design: str, text: str,
                                                  why: str) -> None:
    response = await chat.post(f"/channels/{design}/messages", ALICE, {"text": text})

    assert response.status_code == 422, why
    assert response.headers["content-type"] == "application/problem+json"
    assert (await chat.page(ALICE, design, effects="peek"))["items"] == []


async def test_longest_allowed_text_is_accepted(chat: Chat, design: str) -> None:
    assert (await chat.say(ALICE, design, "x" * 4000))["text"] == "x" * 4000


@pytest.mark.parametrize(("body", "status"), [
    ({"text": "hi", "extra": 1}, 422),
    ({"text": 5}, 422),
    ({"text": "hi", "thread_id": 0}, 422),
    ({"text": "hi", "thread_id": 2**63}, 422),
    ([1, 2], 422),
])
async def test_malformed_message_body_is_4xx_problem(chat: Chat, design: str, body: object,
                                                     status: int) -> None:
    response = await chat.post(f"/channels/{design}/messages", ALICE, body)

    assert response.status_code == status
    assert response.json()["status"] == status


async def test_body_that_is_not_json_is_400(chat: Chat, design: str) -> None:
    response = await chat.call("POST", f"/channels/{design}/messages", ALICE, content=b"{nope",
                               headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["type"] == "/problems/bad-request"


@pytest.mark.parametrize("cursor", ["garbage", "djE6LTE", "djE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5"])
async def test_forged_cursor_is_400(chat: Chat, design: str, cursor: str) -> None:
    response = await chat.get(f"/channels/{design}/messages", ALICE, params={"cursor": cursor})

    assert response.status_code == 400


@pytest.mark.parametrize("limit", [0, 201, -1])
async def test_limit_out_of_bounds_is_422(chat: Chat, design: str, limit: int) -> None:
    response = await chat.get(f"/channels/{design}/messages", ALICE, params={"limit": limit})

    assert response.status_code == 422


async def test_replies_update_parent_and_stay_out_of_main_list(chat: Chat, design: str,
                                                                clock: Clock) -> None:
    parent = await chat.say(ALICE, design, "Which font?")
    clock.advance(minutes=5)
    await chat.say(BOB, design, "Inter", thread_id=parent["id"])
    clock.advance(minutes=5)
    reply = await chat.say(CAROL, design, "Söhne", thread_id=parent["id"])

    page = await chat.page(ALICE, design, effects="peek")
    thread = await chat.ok("GET", f"/channels/{design}/threads/{parent['id']}", ALICE)

    [listed] = page["items"]
    assert listed["id"] == parent["id"]
    assert listed["reply_count"] == 2
    assert listed["last_reply_at"] == "2026-03-02T09:10:00Z"
    assert reply["thread_id"] == parent["id"]
    assert thread["parent"]["reply_count"] == 2
    assert [r["text"] for r in thread["replies"]] == ["Inter", "Söhne"]


async def test_thread_replies_paginate_oldest_first(chat: Chat, design: str) -> None:
    parent = await chat.say(ALICE, design, "poll")
    for n in range(5):
        await chat.say(BOB, design, f"r{n}", thread_id=parent["id"])
    path = f"/channels/{design}/threads/{parent['id']}"

    first = await chat.ok("GET", path, ALICE, params={"limit": 3})
    rest = await chat.ok("GET", path, ALICE, params={"limit": 3, "cursor": first["next_cursor"]})

    assert [r["text"] for r in first["replies"] + rest["replies"]] == [
        "r0", "r1", "r2", "r3", "r4"]
    assert rest["next_cursor"] is None


async def test_reply_to_a_reply_or_to_another_channel_is_422(chat: Chat, design: str) -> None:
    other = await chat.channel(ALICE, "other")
    parent = await chat.say(ALICE, design, "root")
    reply = await chat.say(BOB, design, "reply", thread_id=parent["id"])
    elsewhere = await chat.say(ALICE, other, "elsewhere")

    nested = await chat.post(f"/channels/{design}/messages", ALICE,
                             {"text": "x", "thread_id": reply["id"]})
    crossed = await chat.post(f"/channels/{design}/messages", ALICE,
                              {"text": "x", "thread_id": elsewhere["id"]})

    assert nested.status_code == 422
    assert crossed.status_code == 422
    thread = await chat.ok("GET", f"/channels/{design}/threads/{parent['id']}", ALICE)
    assert thread["parent"]["reply_count"] == 1


async def test_thread_of_unknown_or_reply_message_is_404(chat: Chat, design: str) -> None:
    parent = await chat.say(ALICE, design, "root")
    reply = await chat.say(BOB, design, "reply", thread_id=parent["id"])

    for message_id in (reply["id"], 999_999):
        response = await chat.get(f"/channels/{design}/threads/{message_id}", ALICE)
        assert response.status_code == 404


async def test_mentions_resolve_existing_people_only(chat: Chat, design: str) -> None:
    text = "@bob, @Carol. and @nobody (@dave) me@bob.example @alice"

    message = await chat.say(ALICE, design, text)

    # dave is not in #design, but it is public, so he can see it and be mentioned.
    assert message["mentions"] == ["bob", "carol", "dave"]


async def test_mentions_in_private_channel_skip_non_members(chat: Chat) -> None:
    secret = await chat.channel(ALICE, "leadership", private=True, members=[DAVE])

    message = await chat.say(ALICE, secret, "@dave @bob please review")

    assert message["mentions"] == ["dave"]
    assert (await chat.ok("GET", "/mentions", BOB))["items"] == []
    assert [m["id"] for m in (await chat.ok("GET", "/mentions", DAVE))["items"]] == [message["id"]]


async def test_mentions_inbox_lists_mentions_across_channels(chat: Chat, design: str) -> None:
    random = await chat.channel(BOB, "random")
    first = await chat.say(BOB, design, "@alice look")
    await chat.say(BOB, design, "not you")
    second = await chat.say(BOB, random, "@alice here too")

    inbox = await chat.ok("GET", "/mentions", ALICE)

    assert [m["id"] for m in inbox["items"]] == [second["id"], first["id"]]


async def test_directory_lists_people_with_last_seen(chat: Chat) -> None:
    page = await chat.ok("GET", "/users", ALICE, params={"limit": 3})
    rest = await chat.ok("GET", "/users", ALICE, params={"cursor": page["next_cursor"]})

    assert [u["username"] for u in page["items"] + rest["items"]] == [
        "alice", "bob", "carol", "dave"]
    assert set(page["items"][0]) == {"id", "username", "name", "last_seen_at"}


async def test_profile_follows_the_token(chat: Chat) -> None:
    renamed = type(ALICE)(id=ALICE.id, username="alice", name="Alice M.")

    await chat.ok("GET", "/users", renamed)

    users = (await chat.ok("GET", "/users", BOB))["items"]
    assert users[0]["name"] == "Alice M."
