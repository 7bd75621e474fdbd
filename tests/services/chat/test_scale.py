"""100,000 messages in one channel: pages and counts stay index range scans.

No timing assertions (they flake); instead the query plans must use the indexes,
which is what keeps the cost independent of the channel's size.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Select, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.chat import messages, read_state
from services.chat.models import Member, Mention, Message
from tests.services.chat.support import ALICE, BOB, Chat

pytestmark = pytest.mark.slow

N = 100_000
UNREAD_FROM = N - 500  # alice has read up to the 99,500th message


def row(n: int, channel_id: uuid.UUID, start: dt.datetime) -> dict[str, Any]:
    # Every third message is alice's own; every hundredth mentions her.
    author = ALICE if n % 3 == 0 else BOB
    body = f"message {n} @alice" if n % 100 == 0 else f"message {n} about nothing"
    return {"channel_id": channel_id, "author_id": uuid.UUID(author.id), "thread_id": None,
            "text": body, "created_at": start + dt.timedelta(seconds=n), "reply_count": 0}


async def explain(conn: AsyncConnection, stmt: Select[Any]) -> str:
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()
        return "\n".join(r[3] for r in rows)
    return "\n".join(r[0] for r in (await conn.exec_driver_sql(f"EXPLAIN {sql}")).all())


def assert_index_scan(plan: str) -> None:
    """Every access to messages or mentions is an index search, never a full scan.

    SQLite says SEARCH (an index, or the rowid: the table's own B-tree) or SCAN (all
    rows); PostgreSQL says Index [Only] Scan or Bitmap Heap Scan (fed by a Bitmap Index
    Scan), or Seq Scan.
    """
    lines = [line for line in plan.splitlines() if "chat_m" in line]
    assert lines, plan
    for line in lines:
        assert "SCAN chat_m" not in line, plan
        assert "Seq Scan" not in line, plan
        assert any(word in line for word in ("SEARCH", "Index", "Bitmap Heap Scan")), plan


async def test_hundred_thousand_messages_use_index_range_scans(chat: Chat, app: FastAPI) -> None:
    channel_id = uuid.UUID(await chat.channel(ALICE, "big", members=[BOB]))
    alice = uuid.UUID(ALICE.id)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    async with app.state.engine.begin() as conn:
        await conn.execute(insert(Message), [row(n, channel_id, start) for n in range(1, N + 1)])
        await conn.execute(insert(Mention).from_select(
            ["message_id", "user_id", "channel_id"],
            select(Message.id, literal(alice), Message.channel_id)
            .where(Message.channel_id == channel_id, Message.text.like("%@alice"))))
        ids = (await conn.scalars(select(Message.id).where(Message.channel_id == channel_id)
                                  .order_by(Message.id))).all()
        position = ids[UNREAD_FROM - 1]
        await conn.execute(update(Member).where(Member.channel_id == channel_id,
                                                Member.user_id == alice)
                           .values(last_read_id=position))
        await conn.execute(text("ANALYZE"))

    async with app.state.engine.connect() as conn:
        for stmt in (
            messages.page_query(channel_id, before=None, upto=ids[-1], limit=50),
            messages.page_query(channel_id, before=ids[N // 2], upto=None, limit=50),
            read_state.unread_count_query(channel_id, alice, position),
            read_state.mention_count_query(channel_id, alice, position),
            read_state.newest_message_query(channel_id),
        ):
            assert_index_scan(await explain(conn, stmt))

    later = range(UNREAD_FROM + 1, N + 1)
    summary = await chat.summary(ALICE, str(channel_id))
    assert summary["unread_count"] == sum(1 for n in later if n % 3 != 0)
    assert summary["mention_count"] == sum(1 for n in later if n % 100 == 0)
    page = await chat.page(ALICE, str(channel_id), params={"limit": 50}, effects="peek")
    assert [m["text"].split()[1] for m in page["items"][:2]] == [str(N), str(N - 1)]
    older = await chat.page(ALICE, str(channel_id),
                            params={"limit": 50, "cursor": page["next_cursor"]}, effects="peek")
    assert older["items"][0]["id"] == ids[N - 51]
