"""Messages: the channel's pages, posting, threads, @mentions, rendering for a viewer."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.chat import channels, cursors, people, read_state
from services.chat.errors import InvalidReference, MessageNotFound
from services.chat.models import Channel, ChannelKind, ChatUser, Member, Mention, Message
from services.chat.schemas import AgentRef, MessageCreate, MessageOut, MessagePage, Thread
from services.chat.visibility import Viewer
from services.common.txn_token import TxnContext

# "@bob", "(@bob)", "@bob." -- but not "me@bob.example" or "@@bob".
MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9_.-]{0,39})", re.IGNORECASE)


def page_query(channel_id: uuid.UUID, *, before: int | None, upto: int | None,
               limit: int) -> Select[Message]:
    """Select one page of the channel's main list (no thread replies), newest first.

    One more row than asked for tells whether an older page exists.
    """
    stmt = (select(Message)
            .where(Message.channel_id == channel_id, Message.thread_id.is_(None))
            .order_by(Message.id.desc()).limit(limit + 1))
    if before is not None:
        stmt = stmt.where(Message.id < before)
    if upto is not None:
        stmt = stmt.where(Message.id <= upto)
    return stmt


async def read_channel(session: AsyncSession, ctx: TxnContext, channel: Channel,
                       member: Member | None, *, cursor: str | None, limit: int) -> MessagePage:
    """Return a page of messages; a live read of the newest page marks the channel read.

    The newest id is taken *before* the page, and the page is bounded by it, so a
    message that arrives in between is neither shown nor marked read.
    """
    before = cursors.decode_id(cursor) if cursor else None
    newest = await read_state.newest_message_id(session, channel.id) if before is None else None
    rows = list((await session.scalars(
        page_query(channel.id, before=before, upto=newest, limit=limit))).all())
    page, more = rows[:limit], len(rows) > limit
    if ctx.effects == "live" and member is not None and newest is not None:
        # Catching up on the channel covers its threads too, so mentions there are acknowledged.
        await read_state.advance(session, member, newest, by=people.acting_agent(ctx))
    return MessagePage(
        items=await render(session, people.caller_id(ctx), page),
        next_cursor=cursors.encode(page[-1].id) if more else None,
    )


async def get_thread(session: AsyncSession, viewer_id: uuid.UUID, channel: Channel,
                     parent_id: int, *, cursor: str | None, limit: int) -> Thread:
    """Return a thread's first message and a page of its replies, oldest first."""
    parent = await session.scalar(select(Message).where(
        Message.id == parent_id, Message.channel_id == channel.id, Message.thread_id.is_(None)))
    if parent is None:
        raise MessageNotFound()
    stmt = (select(Message)
            .where(Message.channel_id == channel.id, Message.thread_id == parent.id)
            .order_by(Message.id).limit(limit + 1))
    if cursor:
        stmt = stmt.where(Message.id > cursors.decode_id(cursor))
    rows = list((await session.scalars(stmt)).all())
    page, more = rows[:limit], len(rows) > limit
    rendered = await render(session, viewer_id, [parent, *page])
    return Thread(parent=rendered[0], replies=rendered[1:],
                  next_cursor=cursors.encode(page[-1].id) if more else None)


async def post(session: AsyncSession, me: ChatUser, channel: Channel, member: Member,
               body: MessageCreate, now: dt.datetime, *, via: AgentRef | None = None) -> Message:
    """Post a message or a thread reply, record its mentions, and move the poster's position.

    ``via`` is the agent posting it for ``me``: kept on the message, so everyone sees it
    as "me via agent" (issue 4, attribution).
    """
    parent = None
    if body.thread_id is not None:
        parent = await session.scalar(select(Message).where(
            Message.id == body.thread_id, Message.channel_id == channel.id))
        if parent is None:
            raise InvalidReference("thread_id names no message in this channel.")
        if parent.thread_id is not None:
            raise InvalidReference("Reply to the thread's first message, not to a reply.",
                                   thread_id=parent.thread_id)
    message = Message(channel_id=channel.id, author_id=me.id, thread_id=body.thread_id,
                      text=body.text, created_at=now, reply_count=0,
                      via_agent=via.agent if via else None, via_name=via.name if via else None)
    session.add(message)
    await session.flush()
    if parent is not None:
        # Incremented in SQL, not in Python, so concurrent replies are all counted.
        await session.execute(
            update(Message).where(Message.id == parent.id)
            .values(reply_count=Message.reply_count + 1, last_reply_at=now)
            .execution_options(synchronize_session=False))
    await _record_mentions(session, me, channel, message)
    if parent is None:
        # Your own new message is read by you. A reply leaves your place in the channel alone.
        await read_state.advance(session, member, message.id, by=via)
    return message


async def _record_mentions(session: AsyncSession, me: ChatUser, channel: Channel,
                           message: Message) -> None:
    """Store a mention for each @username who exists and can see the channel (not the author)."""
    names = {m.lower().rstrip(".") for m in MENTION.findall(message.text)} - {me.username}
    if not names:
        return
    stmt = select(ChatUser.id).where(ChatUser.username.in_(names))
    if channel.kind != ChannelKind.PUBLIC:
        # Mentioning someone outside a private channel must not tell them it exists.
        stmt = stmt.join(Member, Member.user_id == ChatUser.id).where(
            Member.channel_id == channel.id)
    session.add_all(Mention(message_id=message.id, user_id=user_id, channel_id=channel.id)
                    for user_id in (await session.scalars(stmt)).all())
    await session.flush()


async def mentions_of(session: AsyncSession, viewer: Viewer, *, cursor: str | None,
                      limit: int) -> MessagePage:
    """Return a page of the messages that mention the viewer, newest first."""
    viewer_id = viewer.user_id
    stmt = (select(Message).join(Mention, Mention.message_id == Message.id)
            .where(Mention.user_id == viewer_id,
                   Mention.channel_id.in_(channels.visible_channel_ids(viewer)))
            .order_by(Message.id.desc()).limit(limit + 1))
    if cursor:
        stmt = stmt.where(Message.id < cursors.decode_id(cursor))
    rows = list((await session.scalars(stmt)).all())
    page, more = rows[:limit], len(rows) > limit
    return MessagePage(items=await render(session, viewer_id, page),
                       next_cursor=cursors.encode(page[-1].id) if more else None)


async def render(session: AsyncSession, viewer_id: uuid.UUID,
                 messages: Sequence[Message]) -> list[MessageOut]:
    """Render messages for a viewer: authors, mentions, and receipts on the viewer's own.

    Three queries for the whole page, whatever its size (no query per message).
    """
    if not messages:
        return []
    ids = [m.id for m in messages]
    authors = {u.id: u for u in (await session.scalars(
        select(ChatUser).where(ChatUser.id.in_({m.author_id for m in messages})))).all()}
    mentioned: dict[int, list[str]] = {}
    for message_id, username in await session.execute(
            select(Mention.message_id, ChatUser.username)
            .join(ChatUser, ChatUser.id == Mention.user_id)
            .where(Mention.message_id.in_(ids)).order_by(ChatUser.username)):
        mentioned.setdefault(message_id, []).append(username)
    seen = await read_state.seen_by(session, viewer_id, messages)
    return [
        MessageOut(
            id=m.id, channel_id=m.channel_id, author=people.person(authors[m.author_id]),
            text=m.text, created_at=m.created_at, thread_id=m.thread_id,
            reply_count=m.reply_count, last_reply_at=m.last_reply_at,
            mentions=mentioned.get(m.id, []),
            seen_by=[people.person(u) for u in seen.get(m.id, [])],
            via=people.agent_ref(m.via_agent, m.via_name),
        )
        for m in messages
    ]
