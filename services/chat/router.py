"""The chat API. Paths are relative to the service root (the gateway serves them at /api/chat).

Every operation declares its scopes (``ChatRead``/``ChatWrite``/``ChatMarkRead``), its
errors and its side effects (``x-effects``). Reads change the person's state only
when the call is live: a peek returns the same data and changes nothing. Writes are
kept only when live; a dry-run goes through every check and is then rolled back.
What a call can reach is ``Viewer.of(ctx)``: the person's channels, narrowed by the
token's channel constraint (see visibility.py).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from services.chat import channels, messages, people, read_state, search
from services.chat.auth import ChatMarkRead, ChatRead, ChatWrite
from services.chat.cursors import MAX_ID
from services.chat.deps import Cursor, Limit, Now
from services.chat.errors import InvalidReference
from services.chat.models import Message
from services.chat.schemas import (
    ChannelCreate,
    ChannelDetail,
    ChannelPage,
    DirectMessageOpen,
    MarkRead,
    MembersAdd,
    MessageCreate,
    MessageOut,
    MessagePage,
    ReadState,
    SearchPage,
    Thread,
    UserPage,
)
from services.chat.visibility import Viewer
from services.common.deps import SessionDep
from services.common.effects import keep_only_if_live
from services.common.openapi import effects, problem_responses

router = APIRouter()

ChannelId = Annotated[uuid.UUID, Path(description="The channel's id.")]
MessageIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The thread's first message.")]

# Reading anything as a live call updates "last seen"; an agent needs chat:mark_read for that.
READ_PRESENCE = effects(on_read=["presence"], effect_scope="chat:mark_read")


@router.get("/channels", operation_id="list_channels", response_model=ChannelPage,
            responses=problem_responses(400, 403), openapi_extra=READ_PRESENCE)
async def list_channels(session: SessionDep, ctx: ChatRead, now: Now, limit: Limit = 100,
                        cursor: Cursor = None) -> ChannelPage:
    """List the channels and DMs you can see, with your unread and mention counts."""
    await people.sync_caller(session, ctx, now)
    return await channels.list_visible(session, Viewer.of(ctx), cursor=cursor, limit=limit)


@router.post("/channels", operation_id="create_channel", response_model=ChannelDetail,
             status_code=status.HTTP_201_CREATED, responses=problem_responses(403, 409),
             openapi_extra=effects(writes=["channels", "members", "presence"]))
async def create_channel(session: SessionDep, ctx: ChatWrite, now: Now,
                         body: ChannelCreate) -> ChannelDetail:
    """Create a public or private channel, with you as a member."""
    me = await people.sync_caller(session, ctx, now)
    channel = await channels.create(session, me, Viewer.of(ctx), body, now)
    result = await channels.detail(session, channel, me.id)
    await keep_only_if_live(session, ctx)
    return result


@router.get("/channels/{channel_id}", operation_id="get_channel", response_model=ChannelDetail,
            responses=problem_responses(403, 404), openapi_extra=READ_PRESENCE)
async def get_channel(session: SessionDep, ctx: ChatRead, now: Now,
                      channel_id: ChannelId) -> ChannelDetail:
    """Get a channel with its members and your counts."""
    me = await people.sync_caller(session, ctx, now)
    channel, _ = await channels.get_visible(session, channel_id, Viewer.of(ctx))
    return await channels.detail(session, channel, me.id)


@router.post("/channels/{channel_id}/join", operation_id="join_channel",
             response_model=ChannelDetail, responses=problem_responses(403, 404),
             openapi_extra=effects(writes=["members", "presence"]))
async def join_channel(session: SessionDep, ctx: ChatWrite, now: Now,
                       channel_id: ChannelId) -> ChannelDetail:
    """Join a public channel (joining one you are in changes nothing)."""
    me = await people.sync_caller(session, ctx, now)
    channel, member = await channels.get_visible(session, channel_id, Viewer.of(ctx))
    await channels.join(session, channel, member, me, now)
    result = await channels.detail(session, channel, me.id)
    await keep_only_if_live(session, ctx)
    return result


@router.post("/channels/{channel_id}/members", operation_id="add_channel_members",
             response_model=ChannelDetail, responses=problem_responses(403, 404, 409),
             openapi_extra=effects(writes=["members", "presence"]))
async def add_channel_members(session: SessionDep, ctx: ChatWrite, now: Now,
                              channel_id: ChannelId, body: MembersAdd) -> ChannelDetail:
    """Add people to a channel you are in."""
    me = await people.sync_caller(session, ctx, now)
    channel, _ = await channels.get_membership(session, channel_id, Viewer.of(ctx))
    await channels.add_members(session, channel, body.usernames, now)
    result = await channels.detail(session, channel, me.id)
    await keep_only_if_live(session, ctx)
    return result


@router.get(
    "/channels/{channel_id}/messages", operation_id="list_messages", response_model=MessagePage,
    responses=problem_responses(400, 403, 404),
    openapi_extra=effects(on_read=["read_position", "read_receipt", "presence", "mention_ack"],
                          effect_scope="chat:mark_read"),
)
async def list_messages(session: SessionDep, ctx: ChatRead, now: Now, channel_id: ChannelId,
                        limit: Limit = 50, cursor: Cursor = None) -> MessagePage:
    """List a channel's messages, newest first; reading the newest page live marks it read."""
    await people.sync_caller(session, ctx, now)
    channel, member = await channels.get_visible(session, channel_id, Viewer.of(ctx))
    return await messages.read_channel(session, ctx, channel, member, cursor=cursor, limit=limit)


@router.post("/channels/{channel_id}/messages", operation_id="post_message",
             response_model=MessageOut, status_code=status.HTTP_201_CREATED,
             responses=problem_responses(403, 404),
             openapi_extra=effects(writes=["messages", "mentions", "read_position", "presence"]))
async def post_message(session: SessionDep, ctx: ChatWrite, now: Now, channel_id: ChannelId,
                       body: MessageCreate) -> MessageOut:
    """Post a message, or a reply when thread_id is given."""
    me = await people.sync_caller(session, ctx, now)
    channel, member = await channels.get_membership(session, channel_id, Viewer.of(ctx))
    message = await messages.post(session, me, channel, member, body, now)
    [result] = await messages.render(session, me.id, [message])
    await keep_only_if_live(session, ctx)
    return result


@router.get("/channels/{channel_id}/threads/{message_id}", operation_id="get_thread",
            response_model=Thread, responses=problem_responses(400, 403, 404),
            openapi_extra=READ_PRESENCE)
async def get_thread(session: SessionDep, ctx: ChatRead, now: Now, channel_id: ChannelId,
                     message_id: MessageIdPath, limit: Limit = 50,
                     cursor: Cursor = None) -> Thread:
    """Get a thread: its first message and its replies, oldest first."""
    me = await people.sync_caller(session, ctx, now)
    channel, _ = await channels.get_visible(session, channel_id, Viewer.of(ctx))
    return await messages.get_thread(session, me.id, channel, message_id,
                                     cursor=cursor, limit=limit)


@router.post("/channels/{channel_id}/read", operation_id="mark_channel_read",
             response_model=ReadState, responses=problem_responses(403, 404),
             openapi_extra=effects(writes=["read_position", "read_receipt", "mention_ack",
                                           "presence"]))
async def mark_channel_read(session: SessionDep, ctx: ChatMarkRead, now: Now,
                            channel_id: ChannelId, body: MarkRead) -> ReadState:
    """Mark a channel read up to a message (a read position only moves forward)."""
    await people.sync_caller(session, ctx, now)
    channel, member = await channels.get_membership(session, channel_id, Viewer.of(ctx))
    exists = await session.get(Message, body.message_id)
    if exists is None or exists.channel_id != channel.id:
        raise InvalidReference("message_id names no message in this channel.")
    await read_state.advance(session, member, body.message_id)
    result = await read_state.state(session, member)
    await keep_only_if_live(session, ctx)
    return result


@router.get("/search", operation_id="search_messages", response_model=SearchPage,
            responses=problem_responses(400, 403), openapi_extra=READ_PRESENCE)
async def search_messages(
    session: SessionDep, ctx: ChatRead, now: Now,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words to find.")],
    limit: Limit = 20, cursor: Cursor = None,
) -> SearchPage:
    """Search the messages you can see; newest first, with highlighted snippets."""
    await people.sync_caller(session, ctx, now)
    return await search.search(session, Viewer.of(ctx), q, cursor=cursor, limit=limit)


@router.get("/mentions", operation_id="list_mentions", response_model=MessagePage,
            responses=problem_responses(400, 403), openapi_extra=READ_PRESENCE)
async def list_mentions(session: SessionDep, ctx: ChatRead, now: Now, limit: Limit = 50,
                        cursor: Cursor = None) -> MessagePage:
    """List the messages that mention you, newest first."""
    await people.sync_caller(session, ctx, now)
    return await messages.mentions_of(session, Viewer.of(ctx), cursor=cursor, limit=limit)


@router.get("/users", operation_id="list_users", response_model=UserPage,
            responses=problem_responses(400, 403), openapi_extra=READ_PRESENCE)
async def list_users(session: SessionDep, ctx: ChatRead, now: Now, limit: Limit = 100,
                     cursor: Cursor = None) -> UserPage:
    """List the people directory, with when each was last seen."""
    await people.sync_caller(session, ctx, now)
    return await people.directory(session, cursor=cursor, limit=limit)


@router.post("/dms", operation_id="open_direct_message", response_model=ChannelDetail,
             status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "The conversation already existed",
                              "model": ChannelDetail},
                        **problem_responses(403)},
             openapi_extra=effects(writes=["channels", "members", "presence"]))
async def open_direct_message(session: SessionDep, ctx: ChatWrite, now: Now,
                              body: DirectMessageOpen, response: Response) -> ChannelDetail:
    """Open the direct message with these people, creating it if needed."""
    me = await people.sync_caller(session, ctx, now)
    channel, created = await channels.open_dm(session, me, Viewer.of(ctx), body.usernames, now)
    if not created:
        response.status_code = status.HTTP_200_OK
    result = await channels.detail(session, channel, me.id)
    await keep_only_if_live(session, ctx)
    return result
