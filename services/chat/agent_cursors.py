"""Agents keep their own place: a read cursor per (person, agent, channel), and who acted.

A person's read position drives what they see (unread badges, mention counts, "seen
by" receipts), so an agent reading for them must not move it. Instead the agent
asks "what is new since I last looked" against its *own* cursor and moves that when
it has dealt with the messages. Nothing the person (or anyone else) can observe
depends on it, which is why moving it is allowed in peek mode: only a dry-run
leaves it where it was.

The agent is the acting actor of the Txn-Token: RFC 8693 section 4.1 puts the
current actor outermost in ``act``, and the gateway hands the chain over outermost
first (``TxnContext.actors[0]``). A sub-agent is its own actor, so it has its own
cursor. A call with no actor (the person themself, e.g. a personal API token) gets
a cursor of its own too, under ``SELF``: still apart from their read position.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.chat import messages
from services.chat.errors import InvalidReference
from services.chat.models import AgentCursor, Channel, Message
from services.chat.people import acting_agent
from services.chat.schemas import AgentCursorOut, NewMessages
from services.chat.sql import insert_unless_exists
from services.chat.visibility import Viewer
from services.common.txn_token import TxnContext

SELF = "self"


def reader_key(ctx: TxnContext) -> str:
    agent = acting_agent(ctx)
    return agent.agent if agent else SELF


async def _load(session: AsyncSession, viewer: Viewer, agent: str,
                channel: Channel) -> AgentCursor | None:
    return await session.get(AgentCursor, (viewer.user_id, agent, channel.id))


def _out(channel: Channel, agent: str, row: AgentCursor | None) -> AgentCursorOut:
    return AgentCursorOut(channel_id=channel.id, agent=agent,
                          last_seen_id=row.last_seen_id if row else 0,
                          updated_at=row.updated_at if row else None)


async def new_messages(session: AsyncSession, ctx: TxnContext, channel: Channel, *,
                       after: int | None, limit: int) -> NewMessages:
    """Return the channel's messages after the agent's cursor (or ``after``), oldest first.

    Thread replies are included: an agent catching up wants every new message, and each
    says its ``thread_id``. Reading changes nothing, the cursor included.
    """
    viewer, agent = Viewer.of(ctx), reader_key(ctx)
    row = await _load(session, viewer, agent, channel)
    start = after if after is not None else (row.last_seen_id if row else 0)
    rows = list((await session.scalars(
        select(Message).where(Message.channel_id == channel.id, Message.id > start)
        .order_by(Message.id).limit(limit + 1))).all())
    page = rows[:limit]
    return NewMessages(cursor=_out(channel, agent, row),
                       items=await messages.render(session, viewer.user_id, page),
                       has_more=len(rows) > limit)


async def advance(session: AsyncSession, ctx: TxnContext, channel: Channel, message_id: int,
                  now: dt.datetime) -> AgentCursorOut:
    """Move the agent's own cursor forward to ``message_id`` (never backward).

    Created on first use (a concurrent first use inserts once); the guard in the UPDATE
    keeps two workers of one agent from moving it back.
    """
    exists = await session.scalar(select(Message.channel_id).where(Message.id == message_id))
    if exists != channel.id:
        raise InvalidReference("message_id names no message in this channel.")
    viewer, agent = Viewer.of(ctx), reader_key(ctx)
    key = {"user_id": viewer.user_id, "agent": agent, "channel_id": channel.id}
    await session.execute(insert_unless_exists(session, AgentCursor).values(
        **key, last_seen_id=0, updated_at=now))
    await session.execute(
        update(AgentCursor)
        .where(*(getattr(AgentCursor, k) == v for k, v in key.items()),
               AgentCursor.last_seen_id < message_id)
        .values(last_seen_id=message_id, updated_at=now)
        .execution_options(synchronize_session=False))
    row = await session.get(AgentCursor, (viewer.user_id, agent, channel.id),
                            populate_existing=True)
    return _out(channel, agent, row)

