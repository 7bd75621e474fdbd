"""The demo data says what seeds/chat.py promises, through the API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from seeds.chat import DESIGN_UNREAD_FOR_ALICE, GENERAL_UNREAD_FOR_ALICE, channel_id, load_chat
from services.common.db import session_scope
from tests.services.chat.support import ALICE, BOB, CAROL, Chat


@pytest.fixture
async def seeded(app: FastAPI, chat: Chat) -> Chat:
    for _ in range(2):  # loading twice is harmless
        async with session_scope(app.state.sessionmaker) as session:
            await load_chat(session)
    return chat


def by_title(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["title"]: c for c in listing["items"]}


async def test_alice_sees_the_promised_unread_counts(seeded: Chat) -> None:
    channels = by_title(await seeded.ok("GET", "/channels", ALICE, effects="peek"))

    assert set(channels) == {"general", "design", "random", "leadership", "Bob Chen",
                             "Carol Diaz"}
    assert channels["design"]["unread_count"] == DESIGN_UNREAD_FOR_ALICE == 5
    assert channels["design"]["mention_count"] >= 1
    assert channels["general"]["unread_count"] == GENERAL_UNREAD_FOR_ALICE
    assert channels["random"]["is_member"] is False
    assert channels["Bob Chen"]["unread_count"] == 0
    assert channels["design"]["id"] == str(channel_id("design"))


async def test_leadership_is_hidden_from_bob(seeded: Chat) -> None:
    titles = set(by_title(await seeded.ok("GET", "/channels", BOB, effects="peek")))

    assert "leadership" not in titles
    assert "Carol Diaz" not in titles


async def test_bob_sees_alice_read_his_design_message_after_she_reads(seeded: Chat) -> None:
    design = str(channel_id("design"))
    newest = (await seeded.page(BOB, design, effects="peek"))["items"][0]
    assert newest["author"]["username"] == "bob"
    assert [p["username"] for p in newest["seen_by"]] == ["carol"]

    await seeded.page(ALICE, design)

    newest = (await seeded.page(BOB, design, effects="peek"))["items"][0]
    assert [p["username"] for p in newest["seen_by"]] == ["alice", "carol"]


async def test_seeded_history_has_threads(seeded: Chat) -> None:
    page = await seeded.page(CAROL, str(channel_id("general")), effects="peek")

    assert any(m["reply_count"] == 2 for m in page["items"])
