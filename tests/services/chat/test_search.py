"""Full-text search: matching, visibility, highlighting, pagination, hostile queries."""

from __future__ import annotations

import pytest

from tests.services.chat.support import ALICE, BOB, DAVE, Chat


async def search(chat: Chat, person: object, q: str, **params: object) -> dict[str, object]:
    result: dict[str, object] = await chat.ok("GET", "/search", person,  # type: ignore[arg-type]
                                              params={"q": q, **params})
    return result


async def test_search_finds_words_with_highlighted_escaped_snippet(chat: Chat) -> None:
    general = await chat.channel(ALICE, "general", members=[BOB])
    hit = await chat.say(BOB, general, "deploy on Friday if load < 5 & tests pass")
    await chat.say(BOB, general, "lunch?")

    result = await search(chat, ALICE, "deploy friday")

    [item] = result["items"]  # type: ignore[misc]
    assert item["message"]["id"] == hit["id"]
    assert item["channel"] == {"id": general, "title": "general"}
    assert "<mark>deploy</mark>" in item["snippet_html"]
    assert "<mark>Friday</mark>" in item["snippet_html"]
    assert "&lt; 5 &amp;" in item["snippet_html"]


async def test_search_stems_words(chat: Chat) -> None:
    general = await chat.channel(ALICE, "general", members=[BOB])
    await chat.say(BOB, general, "we are deploying now")

    assert len((await search(chat, ALICE, "deploy"))["items"]) == 1  # type: ignore[arg-type]


async def test_search_never_shows_private_channels_to_outsiders(chat: Chat) -> None:
    secret = await chat.channel(ALICE, "leadership", private=True, members=[DAVE])
    dm = await chat.ok("POST", "/dms", ALICE, json={"usernames": ["dave"]})
    await chat.say(ALICE, secret, "reorg plan")
    await chat.say(ALICE, dm["id"], "reorg gossip")

    assert (await search(chat, BOB, "reorg"))["items"] == []
    assert len((await search(chat, DAVE, "reorg"))["items"]) == 2  # type: ignore[arg-type]


async def test_search_includes_thread_replies(chat: Chat) -> None:
    general = await chat.channel(ALICE, "general", members=[BOB])
    root = await chat.say(ALICE, general, "question")
    await chat.say(BOB, general, "answer about kubernetes", thread_id=root["id"])

    [item] = (await search(chat, ALICE, "kubernetes"))["items"]  # type: ignore[misc]
    assert item["message"]["thread_id"] == root["id"]


async def test_search_paginates_newest_first(chat: Chat) -> None:
    general = await chat.channel(ALICE, "general", members=[BOB])
    ids = [(await chat.say(BOB, general, f"standup note {n}"))["id"] for n in range(5)]

    first = await search(chat, ALICE, "standup", limit=2)
    second = await search(chat, ALICE, "standup", limit=2, cursor=first["next_cursor"])
    third = await search(chat, ALICE, "standup", limit=2, cursor=second["next_cursor"])

    found = [i["message"]["id"] for p in (first, second, third) for i in p["items"]]  # type: ignore[attr-defined]
    assert found == ids[::-1]
    assert third["next_cursor"] is None


@pytest.mark.parametrize("q", ["AND", "deploy*", "NEAR(a b)", "col:x", "a OR", "'; drop",
                               '"deploy', "ünïcödé"])
async def test_search_survives_query_syntax(chat: Chat, q: str) -> None:
    general = await chat.channel(ALICE, "general", members=[BOB])
    await chat.say(BOB, general, "deploy AND ship")

    response = await chat.get("/search", ALICE, params={"q": q})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("q", ["", "   ", "!!!", '"', "((("])
async def test_search_without_words_is_422(chat: Chat, q: str) -> None:
    response = await chat.get("/search", ALICE, params={"q": q})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
