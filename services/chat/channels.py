"""Channels and direct messages: who can see them, listing, creating, joining.

Every read goes through a :class:`~services.chat.visibility.Viewer`: the person's
own visibility (public channels and their own), narrowed by the call's channel
constraint, if any.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.chat import cursors, people, read_state
from services.chat.errors import ChannelNotFound, InvalidReference, NotAMember
from services.chat.models import Channel, ChannelKind, ChatUser, Member, Message
from services.chat.schemas import (
    ChannelCreate,
    ChannelDetail,
    ChannelPage,
    ChannelSummary,
)
from services.chat.sql import insert_unless_exists
from services.chat.visibility import OutsideChannelLimit, Viewer
from services.common.problems import BadRequest, Conflict

# A channel, the caller's read position, unread count, mention count, last message time,
# and the agent (sub, name) that last moved the position, if one did.
SummaryQuery = Select[Channel, int, Any, Any, dt.datetime, str | None, str | None]


def visible_channel_ids(viewer: Viewer) -> Select[uuid.UUID]:
    """Select the ids of the channels the viewer can see: public ones and their own."""
    mine = select(Member.channel_id).where(Member.user_id == viewer.user_id)
    return select(Channel.id).where(or_(Channel.kind == ChannelKind.PUBLIC, Channel.id.in_(mine)),
                                    viewer.within(Channel.id))


async def get_visible(session: AsyncSession, channel_id: uuid.UUID,
                      viewer: Viewer) -> tuple[Channel, Member | None]:
    """Return the channel and the caller's membership; 404 if they can't see it."""
    if not viewer.may_reach(channel_id):
        # Outside the call's constraint: the same answer as a channel that doesn't exist.
        raise ChannelNotFound()
    row = (await session.execute(
        select(Channel, Member)
        .outerjoin(Member, and_(Member.channel_id == Channel.id,
                                Member.user_id == viewer.user_id))
        .where(Channel.id == channel_id)
    )).first()
    if row is None:
        raise ChannelNotFound()
    channel, member = row
    if channel.kind != ChannelKind.PUBLIC and member is None:
        raise ChannelNotFound()
    return channel, member


async def get_membership(session: AsyncSession, channel_id: uuid.UUID,
                         viewer: Viewer) -> tuple[Channel, Member]:
    """Return a channel the caller is a member of (403 for a public channel they haven't joined)."""
    channel, member = await get_visible(session, channel_id, viewer)
    if member is None:
        raise NotAMember()
    return channel, member


def _summaries_query(user_id: uuid.UUID) -> SummaryQuery:
    """Select visible channels with the caller's read position and the counts derived from it.

    The counts are correlated subqueries, each an index range scan per channel; for a
    channel the caller hasn't joined the position is NULL and both counts are 0.
    """
    position = Member.last_read_id
    last_message_at = (select(Message.created_at).where(Message.channel_id == Channel.id)
                       .order_by(Message.id.desc()).limit(1).scalar_subquery())
    return (
        select(
            Channel, position,
            read_state.unread_count_query(Channel.id, user_id, position).scalar_subquery(),
            read_state.mention_count_query(Channel.id, user_id, position).scalar_subquery(),
            last_message_at, Member.read_marked_by, Member.read_marked_by_name,
        )
        .outerjoin(Member, and_(Member.channel_id == Channel.id, Member.user_id == user_id))
        .where(or_(Channel.kind == ChannelKind.PUBLIC, Member.user_id.is_not(None)))
    )


async def titles(session: AsyncSession, channels: Sequence[Channel],
                 user_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Return what to call each channel: its name, or for a DM the other members' names."""
    result = {c.id: c.name or "" for c in channels}
    dm_ids = [c.id for c in channels if c.kind == ChannelKind.DM]
    if dm_ids:
        rows = await session.execute(
            select(Member.channel_id, ChatUser.display_name)
            .join(ChatUser, ChatUser.id == Member.user_id)
            .where(Member.channel_id.in_(dm_ids), Member.user_id != user_id)
            .order_by(ChatUser.display_name))
        names: dict[uuid.UUID, list[str]] = {}
        for channel_id, name in rows:
            names.setdefault(channel_id, []).append(name)
        result.update({cid: ", ".join(n) for cid, n in names.items()})
    return result


async def _summaries(session: AsyncSession, stmt: SummaryQuery,
                     user_id: uuid.UUID) -> list[tuple[Channel, ChannelSummary]]:
    rows = (await session.execute(stmt)).all()
    names = await titles(session, [row[0] for row in rows], user_id)
    return [
        (channel, ChannelSummary(
            id=channel.id, kind=channel.kind.value, name=channel.name, title=names[channel.id],
            topic=channel.topic, is_member=position is not None,
            unread_count=unread or 0, mention_count=mentions or 0,
            last_read_id=position or 0, last_message_at=last_at,
            marked_by=people.agent_ref(marked_by, marked_by_name),
        ))
        for channel, position, unread, mentions, last_at, marked_by, marked_by_name in rows
    ]


async def list_visible(session: AsyncSession, viewer: Viewer, *, cursor: str | None,
                       limit: int) -> ChannelPage:
    """Return a page of the channels the caller can see, oldest first."""
    user_id = viewer.user_id
    stmt = (_summaries_query(user_id).where(viewer.within(Channel.id))
            .order_by(Channel.created_at, Channel.id).limit(limit + 1))
    if cursor:
        after_at, after_id = _channel_position(cursor)
        stmt = stmt.where(or_(Channel.created_at > after_at,
                              and_(Channel.created_at == after_at, Channel.id > after_id)))
    rows = await _summaries(session, stmt, user_id)
    page, more = rows[:limit], len(rows) > limit
    last = page[-1][0] if more else None
    return ChannelPage(
        items=[summary for _, summary in page],
        next_cursor=cursors.encode(f"{last.created_at.isoformat()}|{last.id}") if last else None,
    )


def _channel_position(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """Decode a channel-list cursor: the (created_at, id) of the last channel served."""
    at, _, last_id = cursors.decode(cursor).partition("|")
    try:
        after_at, after_id = dt.datetime.fromisoformat(at), uuid.UUID(last_id)
    except ValueError:
        raise BadRequest("The cursor is not one this service issued.") from None
    if after_at.tzinfo is None:
        raise BadRequest("The cursor is not one this service issued.")
    return after_at, after_id


async def detail(session: AsyncSession, channel: Channel, user_id: uuid.UUID) -> ChannelDetail:
    """Return one visible channel with its members and the caller's counts."""
    [(_, summary)] = await _summaries(
        session, _summaries_query(user_id).where(Channel.id == channel.id), user_id)
    members = (await session.scalars(
        select(ChatUser).join(Member, Member.user_id == ChatUser.id)
        .where(Member.channel_id == channel.id).order_by(ChatUser.username))).all()
    return ChannelDetail(**summary.model_dump(), created_at=channel.created_at,
                         members=[people.person(m) for m in members])


async def _add_members(session: AsyncSession, channel: Channel, users: Sequence[ChatUser],
                       now: dt.datetime) -> None:
    """Add the people not already in the channel.

    A newcomer starts caught up (position = newest message): joining a busy channel
    shouldn't greet them with its whole history as unread.
    """
    existing = set((await session.scalars(
        select(Member.user_id).where(Member.channel_id == channel.id))).all())
    newest = await read_state.newest_message_id(session, channel.id) or 0
    session.add_all(Member(channel_id=channel.id, user_id=u.id, joined_at=now, last_read_id=newest)
                    for u in users if u.id not in existing)
    await session.flush()


async def create(session: AsyncSession, me: ChatUser, viewer: Viewer, body: ChannelCreate,
                 now: dt.datetime) -> Channel:
    """Create a public or private channel with the caller (and anyone named) as members."""
    viewer.refuse_new_channels()
    invited = await people.by_usernames(session, body.usernames)
    channel_id = uuid.uuid4()
    # The unique name decides, even between two requests racing for the same name.
    await session.execute(insert_unless_exists(session, Channel).values(
        id=channel_id, kind=ChannelKind.PRIVATE if body.private else ChannelKind.PUBLIC,
        name=body.name, topic=body.topic, created_by=me.id, created_at=now))
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise Conflict(f"A channel named {body.name!r} already exists.")
    await _add_members(session, channel, [me, *invited], now)
    return channel


async def join(session: AsyncSession, channel: Channel, member: Member | None, me: ChatUser,
               now: dt.datetime) -> None:
    """Join a public channel; joining one you are already in changes nothing."""
    if member is not None:
        return
    # get_visible already hid private channels and DMs the caller isn't in.
    await _add_members(session, channel, [me], now)


async def add_members(session: AsyncSession, channel: Channel, usernames: Sequence[str],
                      now: dt.datetime) -> None:
    """Add people to a channel the caller is in; a DM's members are fixed."""
    if channel.kind == ChannelKind.DM:
        raise Conflict("A direct message's members are fixed; open a new one instead.")
    await _add_members(session, channel, await people.by_usernames(session, usernames), now)


async def open_dm(session: AsyncSession, me: ChatUser, viewer: Viewer, usernames: Sequence[str],
                  now: dt.datetime) -> tuple[Channel, bool]:
    """Find or create the DM among the caller and ``usernames``; return it and if it is new."""
    others = [u for u in await people.by_usernames(session, usernames) if u.id != me.id]
    if not others:
        raise InvalidReference("A direct message needs at least one other person.")
    members = [me, *others]
    key = ",".join(sorted(str(u.id) for u in members))
    if viewer.is_limited:
        # Only a conversation on the call's list can be opened; any other answers the same
        # refusal whether it exists or not, so its existence does not leak.
        existing = await session.scalar(select(Channel).where(Channel.dm_key == key))
        if existing is not None and viewer.may_reach(existing.id):
            return existing, False
        raise OutsideChannelLimit()
    # If someone opens the same conversation at the same moment, the unique key keeps one
    # and both callers get it.
    inserted = await session.execute(insert_unless_exists(session, Channel).values(
        id=uuid.uuid4(), kind=ChannelKind.DM, dm_key=key, topic="", created_by=me.id,
        created_at=now).returning(Channel.id))
    created = inserted.first() is not None
    channel = await session.scalar(select(Channel).where(Channel.dm_key == key))
    assert channel is not None
    if created:
        await _add_members(session, channel, members, now)
    return channel, created
