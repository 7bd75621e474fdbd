"""Channels and DMs: visibility, creating, joining, members, listing."""

from __future__ import annotations

from tests.services.chat.support import ALICE, BOB, DAVE, Chat, Clock


async def test_public_channel_is_listed_for_everyone_with_is_member(chat: Chat) -> None:
    channel_id = await chat.channel(ALICE, "general")

    listed = await chat.ok("GET", "/channels", BOB)

    [entry] = listed["items"]
    assert entry["id"] == channel_id
    assert entry | {"is_member": False, "kind": "public", "title": "general"} == entry
    assert entry["unread_count"] == 0


async def test_private_channel_is_invisible_to_non_members(chat: Chat) -> None:
    secret = await chat.channel(ALICE, "leadership", private=True, members=[DAVE])
    await chat.say(ALICE, secret, "budget talk")

    assert (await chat.ok("GET", "/channels", BOB))["items"] == []
    for path in (f"/channels/{secret}", f"/channels/{secret}/messages",
                 f"/channels/{secret}/threads/1"):
        response = await chat.get(path, BOB)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    for path, body in ((f"/channels/{secret}/join", None),
                       (f"/channels/{secret}/messages", {"text": "hi"}),
                       (f"/channels/{secret}/read", {"message_id": 1}),
                       (f"/channels/{secret}/members", {"usernames": ["bob"]})):
        assert (await chat.post(path, BOB, body)).status_code == 404, path
    assert [c["title"] for c in (await chat.ok("GET", "/channels", DAVE))["items"]] == [
        "leadership"]


async def test_unknown_channel_is_404_problem(chat: Chat) -> None:
    response = await chat.get("/channels/0b7e3c1e-0000-4000-8000-000000000000", ALICE)

    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


async def test_create_channel_makes_creator_and_invitees_members(chat: Chat) -> None:
    created = await chat.ok("POST", "/channels", ALICE,
                            json={"name": "design", "usernames": ["bob", "carol"],
                                  "topic": "Pixels"})

    assert created["topic"] == "Pixels"
    assert [m["username"] for m in created["members"]] == ["alice", "bob", "carol"]
    assert created["is_member"] is True


async def test_duplicate_channel_name_is_409(chat: Chat) -> None:
    await chat.channel(ALICE, "design")

    response = await chat.post("/channels", BOB, {"name": "design"})

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/conflict"


async def test_create_channel_with_unknown_person_is_422_and_creates_nothing(chat: Chat) -> None:
    response = await chat.post("/channels", ALICE, {"name": "x", "usernames": ["nobody"]})

    assert response.status_code == 422
    assert response.json()["unknown_usernames"] == ["nobody"]
    assert (await chat.ok("GET", "/channels", ALICE))["items"] == []


async def test_join_public_channel_lets_you_post(chat: Chat) -> None:
    channel_id = await chat.channel(ALICE, "random")
    assert (await chat.post(f"/channels/{channel_id}/messages", BOB,
                            {"text": "hi"})).status_code == 403

    joined = await chat.ok("POST", f"/channels/{channel_id}/join", BOB)
    again = await chat.ok("POST", f"/channels/{channel_id}/join", BOB)

    assert joined["is_member"] is True
    assert [m["username"] for m in again["members"]] == ["alice", "bob"]
    assert (await chat.post(f"/channels/{channel_id}/messages", BOB,
                            {"text": "hi"})).status_code == 201


async def test_joiner_starts_caught_up(chat: Chat) -> None:
    channel_id = await chat.channel(ALICE, "random")
    await chat.say(ALICE, channel_id, "old news")

    joined = await chat.ok("POST", f"/channels/{channel_id}/join", BOB)

    assert joined["unread_count"] == 0


async def test_member_adds_people_to_private_channel(chat: Chat) -> None:
    secret = await chat.channel(ALICE, "leadership", private=True)

    detail = await chat.ok("POST", f"/channels/{secret}/members", ALICE,
                           json={"usernames": ["dave"]})

    assert [m["username"] for m in detail["members"]] == ["alice", "dave"]
    assert (await chat.get(f"/channels/{secret}", DAVE)).status_code == 200


async def test_open_dm_finds_or_creates_one_conversation(chat: Chat) -> None:
    first = await chat.post("/dms", ALICE, {"usernames": ["bob"]})
    second = await chat.post("/dms", BOB, {"usernames": ["alice"]})

    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["kind"] == "dm"
    assert first.json()["name"] is None
    assert first.json()["title"] == "Bob Chen"
    assert second.json()["title"] == "Alice Martin"


async def test_group_dm_is_titled_by_the_other_members(chat: Chat) -> None:
    dm = await chat.ok("POST", "/dms", ALICE, json={"usernames": ["carol", "bob", "alice"]})

    assert dm["title"] == "Bob Chen, Carol Diaz"
    assert (await chat.get(f"/channels/{dm['id']}", DAVE)).status_code == 404


async def test_dm_with_only_yourself_is_422(chat: Chat) -> None:
    response = await chat.post("/dms", ALICE, {"usernames": ["alice"]})

    assert response.status_code == 422


async def test_dm_members_are_fixed(chat: Chat) -> None:
    dm = await chat.ok("POST", "/dms", ALICE, json={"usernames": ["bob"]})

    response = await chat.post(f"/channels/{dm['id']}/members", ALICE, {"usernames": ["carol"]})

    assert response.status_code == 409


async def test_channel_list_paginates_with_opaque_cursor(chat: Chat, clock: Clock) -> None:
    for n in range(5):
        clock.advance(seconds=1)
        await chat.channel(ALICE, f"c{n}")

    first = await chat.ok("GET", "/channels", BOB, params={"limit": 2})
    second = await chat.ok("GET", "/channels", BOB,
                           params={"limit": 2, "cursor": first["next_cursor"]})
    third = await chat.ok("GET", "/channels", BOB,
                          params={"limit": 2, "cursor": second["next_cursor"]})

    names = [c["name"] for page in (first, second, third) for c in page["items"]]
    assert names == ["c0", "c1", "c2", "c3", "c4"]
    assert third["next_cursor"] is None
