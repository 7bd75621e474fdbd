"""Read positions and everything derived from them: unread and mention counts, receipts.

A person's read position in a channel is one integer, the id of the newest message
they have caught up to. Message ids only grow, so:

- unread count = the channel's top-level messages after it, not written by them;
- mention count = mentions of them after it (in threads too);
- "seen by" = for my message, the other members whose position is at or past it.

Each is a range scan on an index that starts with the same columns (see models.py),
so the cost follows the number of unread messages, never the size of the channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.chat.models import ChatUser, Member, Mention, Message
from services.chat.people import agent_ref
from services.chat.schemas import AgentRef, ReadState

# A value, or a column of an enclosing query (channels.py uses them as correlated subqueries).
ChannelRef = uuid.UUID | SQLColumnExpression[uuid.UUID]
Position = int | SQLColumnExpression[int]


def unread_count_query(channel_id: ChannelRef, reader_id: uuid.UUID,
                       after: Position) -> Select[int]:
    """Count the channel's top-level messages after ``after`` that ``reader_id`` didn't write.

    Thread replies are not in the channel's main list, so they don't count as unread.
    """
    return select(func.count()).select_from(Message).where(
        Message.channel_id == channel_id,
        Message.thread_id.is_(None),
        Message.id > after,
        Message.author_id != reader_id,
    )


def mention_count_query(channel_id: ChannelRef, reader_id: uuid.UUID,
                        after: Position) -> Select[int]:
    """Count the mentions of ``reader_id`` in the channel after ``after``."""
    return select(func.count()).select_from(Mention).where(
        Mention.user_id == reader_id,
        Mention.channel_id == channel_id,
        Mention.message_id > after,
    )


def newest_message_query(channel_id: uuid.UUID) -> Select[int]:
    """Select the id of the channel's newest message, in any thread."""
    return select(func.max(Message.id)).where(Message.channel_id == channel_id)


async def newest_message_id(session: AsyncSession, channel_id: uuid.UUID) -> int | None:
    result: int | None = await session.scalar(newest_message_query(channel_id))
    return result


async def advance(session: AsyncSession, member: Member, message_id: int, *,
                  by: AgentRef | None) -> bool:
    """Move ``member``'s read position forward to ``message_id``; never backward.

    The guard is in the UPDATE itself, so two tabs marking read at once can't move the
    position back, and an unchanged position costs no write. Returns whether it moved.
    ``by`` is the agent moving it for the person (None: the person themself), kept with
    the position so the person can see who marked their channel read.
    """
    if message_id <= member.last_read_id:
        return False
    marked_by, marked_by_name = (by.agent, by.name) if by else (None, None)
    result: Any = await session.execute(
        update(Member)
        .where(Member.channel_id == member.channel_id, Member.user_id == member.user_id,
               Member.last_read_id < message_id)
        .values(last_read_id=message_id, read_marked_by=marked_by,
                read_marked_by_name=marked_by_name)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(member, "last_read_id", message_id)
    set_committed_value(member, "read_marked_by", marked_by)
    set_committed_value(member, "read_marked_by_name", marked_by_name)
    return bool(result.rowcount)


async def state(session: AsyncSession, member: Member) -> ReadState:
    """Return ``member``'s read position and the counts derived from it."""
    unread = await session.scalar(
        unread_count_query(member.channel_id, member.user_id, member.last_read_id))
    mentions = await session.scalar(
        mention_count_query(member.channel_id, member.user_id, member.last_read_id))
    return ReadState(channel_id=member.channel_id, last_read_id=member.last_read_id,
                     unread_count=unread or 0, mention_count=mentions or 0,
                     marked_by=agent_ref(member.read_marked_by, member.read_marked_by_name))


async def seen_by(session: AsyncSession, viewer_id: uuid.UUID,
                  messages: Sequence[Message]) -> dict[int, list[ChatUser]]:
    """Return, for each of the viewer's own messages, the other members who have read it.

    Receipts are shown to the sender only: someone else's message gets none.
    """
    own = [m for m in messages if m.author_id == viewer_id]
    if not own:
        return {}
    rows = (await session.execute(
        select(Member.channel_id, Member.last_read_id, ChatUser)
        .join(ChatUser, ChatUser.id == Member.user_id)
        .where(Member.channel_id.in_({m.channel_id for m in own}),
               Member.user_id != viewer_id,
               Member.last_read_id >= min(m.id for m in own))
        .order_by(ChatUser.username)
    )).all()
    return {
        m.id: [user for channel_id, position, user in rows
               if channel_id == m.channel_id and position >= m.id]
        for m in own
    }
