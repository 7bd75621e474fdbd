"""Full-text search over the messages the caller can see.

The index is the database's own: FTS5 on SQLite (a ``chat_messages_fts`` table fed by
triggers) and a GIN index on ``to_tsvector('english', text)`` on PostgreSQL; both are
created by migration 0002_chat. The user's words are never passed to a query language
as-is: they are reduced to plain words, so no input can be a syntax error (a 500).
"""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import BigInteger, Select, column, func, literal_column, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnClause

from services.chat import channels, cursors, messages
from services.chat.models import Channel, Message
from services.chat.schemas import ChannelRef, SearchHit, SearchPage
from services.chat.visibility import Viewer
from services.common.problems import Problem

# The highlighter wraps matches in these; message text can't contain them (schemas.py),
# so after HTML-escaping the snippet they can safely become <mark> tags.
START, STOP = "\x02", "\x03"
WORD = re.compile(r"\w+")
MAX_WORDS = 16

# Must match the index expression in migrations/versions/0002_chat.py, literally:
# with a bound parameter instead, PostgreSQL could not use the index.
PG_CONFIG: ColumnClause[Any] = literal_column("'english'::regconfig")
_fts = table("chat_messages_fts", column("rowid", BigInteger))
_fts_name: ColumnClause[Any] = literal_column("chat_messages_fts")


def words(query: str) -> list[str]:
    """Return the searchable words of a query; none at all is a 422."""
    found = WORD.findall(query)[:MAX_WORDS]
    if not found:
        raise Problem(422, "validation-error", "Search for at least one word.")
    return found


def search_query(dialect: str, query: str) -> Select[Message, str]:
    """Select (message, snippet) for every message matching all the words, newest first."""
    terms = words(query)
    if dialect == "sqlite":
        # Each word quoted: FTS5 then reads it as a plain term, never as an operator.
        match = " ".join(f'"{t}"' for t in terms)
        snippet = func.snippet(_fts_name, 0, START, STOP, "…", 16)
        return (select(Message, snippet)
                .join(_fts, _fts.c.rowid == Message.id)
                .where(_fts_name.op("MATCH")(match)))
    tsquery = func.plainto_tsquery(PG_CONFIG, " ".join(terms))
    snippet = func.ts_headline(
        PG_CONFIG, Message.text, tsquery,
        f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=8, MaxFragments=2")
    return (select(Message, snippet)
            .where(func.to_tsvector(PG_CONFIG, Message.text).op("@@")(tsquery)))


def snippet_html(snippet: str) -> str:
    """Escape a highlighted snippet for HTML, then turn the markers into <mark> tags."""
    return html.escape(snippet).replace(START, "<mark>").replace(STOP, "</mark>")


async def search(session: AsyncSession, viewer: Viewer, query: str, *,
                 cursor: str | None, limit: int) -> SearchPage:
    """Return a page of the messages the viewer can see that match ``query``."""
    viewer_id = viewer.user_id
    stmt = (search_query(session.get_bind().dialect.name, query)
            .where(Message.channel_id.in_(channels.visible_channel_ids(viewer)))
            .order_by(Message.id.desc()).limit(limit + 1))
    if cursor:
        stmt = stmt.where(Message.id < cursors.decode_id(cursor))
    rows = (await session.execute(stmt)).all()
    page, more = rows[:limit], len(rows) > limit
    found = [row[0] for row in page]
    chans = list((await session.scalars(
        select(Channel).where(Channel.id.in_({m.channel_id for m in found})))).all())
    names = await channels.titles(session, chans, viewer_id)
    rendered = await messages.render(session, viewer_id, found)
    return SearchPage(
        items=[SearchHit(message=out, channel=ChannelRef(id=out.channel_id,
                                                         title=names[out.channel_id]),
                         snippet_html=snippet_html(snippet or ""))
               for out, (_, snippet) in zip(rendered, page, strict=True)],
        next_cursor=cursors.encode(found[-1].id) if more else None,
    )
