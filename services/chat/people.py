"""People as chat knows them: profiles mirrored from the Txn-Token, presence, the directory."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.chat import cursors
from services.chat.errors import InvalidReference
from services.chat.models import ChatUser
from services.chat.schemas import AgentRef, DirectoryEntry, Person, UserPage
from services.chat.sql import insert_unless_exists
from services.common.problems import Conflict, Problem
from services.common.txn_token import TxnContext

# "Last seen" is shown to the minute; writing it more often would cost a write per request.
PRESENCE_RESOLUTION = dt.timedelta(minutes=1)


def caller_id(ctx: TxnContext) -> uuid.UUID:
    """Return the caller's person id; a ``sub`` that is not one is a bad token."""
    try:
        return uuid.UUID(ctx.sub)
    except ValueError as exc:
        raise Problem(401, "invalid-token", "The Txn-Token's subject is not a person.") from exc


def acting_agent(ctx: TxnContext) -> AgentRef | None:
    """The agent acting in this call, or None when the person acts themself.

    RFC 8693 section 4.1: the current actor is the outermost ``act``; the gateway hands
    the chain over outermost first, so a sub-agent is itself the one acting.
    """
    if not ctx.actors:
        return None
    actor = ctx.actors[0]
    # The gateway names the acting agent; an unnamed one is still identified by its sub.
    return AgentRef(agent=actor.sub, name=actor.name or actor.sub)


def agent_ref(agent: str | None, name: str | None) -> AgentRef | None:
    """An agent stored with a row (its sub and name), or None when the person acted."""
    return AgentRef(agent=agent, name=name or agent) if agent else None


async def sync_caller(session: AsyncSession, ctx: TxnContext, now: dt.datetime) -> ChatUser:
    """Return the caller's profile, creating or refreshing it from the token, and note presence.

    Writes only when something changed: a known, unchanged caller costs one SELECT.
    Presence is an effect of a *live* call only; a peek must not say "last seen".
    """
    user_id = caller_id(ctx)
    username, name = ctx.username.lower(), ctx.name or ctx.username
    user = await session.get(ChatUser, user_id)
    if user is None:
        user = await _create(session, user_id, username, name, now)
    elif (user.username, user.display_name) != (username, name):
        await _rename(session, user, username, name)
    if ctx.effects == "live":
        touch_presence(user, now)
    return user


async def _create(session: AsyncSession, user_id: uuid.UUID, username: str, name: str,
                  now: dt.datetime) -> ChatUser:
    # Two first calls of one person may race: the loser's insert does nothing, and both
    # read the one row.
    await session.execute(insert_unless_exists(session, ChatUser).values(
        id=user_id, username=username, display_name=name, created_at=now))
    user = await session.get(ChatUser, user_id)
    if user is None:
        raise _username_taken()
    return user


async def _rename(session: AsyncSession, user: ChatUser, username: str, name: str) -> None:
    if username != user.username and await session.scalar(
            select(ChatUser.id).where(ChatUser.username == username)):
        raise _username_taken()
    user.username, user.display_name = username, name
    await session.flush()


def _username_taken() -> Conflict:
    # Usernames are unique at the gateway, so this means chat's copy of someone else's
    # profile is stale (they renamed); their next call will refresh it.
    return Conflict("Another chat profile already has this username.")


def touch_presence(user: ChatUser, now: dt.datetime) -> None:
    """Move "last seen" to ``now``, at most once per PRESENCE_RESOLUTION."""
    if user.last_seen_at is None or now - user.last_seen_at >= PRESENCE_RESOLUTION:
        user.last_seen_at = now


async def by_usernames(session: AsyncSession, usernames: Iterable[str]) -> list[ChatUser]:
    """Return the people named ``usernames``; any unknown name is a 422 naming them."""
    wanted = sorted({u.lower() for u in usernames})
    if not wanted:
        return []
    found = list((await session.scalars(
        select(ChatUser).where(ChatUser.username.in_(wanted)))).all())
    unknown = sorted(set(wanted) - {u.username for u in found})
    if unknown:
        raise InvalidReference("No such person: " + ", ".join(unknown) + ".",
                               unknown_usernames=unknown)
    return found


async def directory(session: AsyncSession, *, cursor: str | None, limit: int) -> UserPage:
    """Return a page of the people directory, by username."""
    stmt = select(ChatUser).order_by(ChatUser.username).limit(limit + 1)
    if cursor:
        stmt = stmt.where(ChatUser.username > cursors.decode(cursor))
    users = list((await session.scalars(stmt)).all())
    more = len(users) > limit
    users = users[:limit]
    return UserPage(
        items=[DirectoryEntry(id=u.id, username=u.username, name=u.display_name,
                              last_seen_at=u.last_seen_at) for u in users],
        next_cursor=cursors.encode(users[-1].username) if more else None,
    )


def person(user: ChatUser) -> Person:
    return Person(id=user.id, username=user.username, name=user.display_name)
