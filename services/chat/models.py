"""The chat service's tables (prefix ``chat_``).

Read state lives on the membership row (``last_read_id``): a person's position in
a channel is the id of the newest message they have caught up to. Unread counts,
mention counts and read receipts are all *derived* from it with index range scans,
so there is no per-message "read" table to grow with every view.

The full-text index is not mapped here: it is dialect-specific DDL (an FTS5 table on
SQLite, an expression GIN index on PostgreSQL) owned by the migration, see
``services/chat/search.py``.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import BigIntPK, UTCDateTime, naming_metadata


class Base(DeclarativeBase):
    metadata = naming_metadata()


class ChannelKind(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    DM = "dm"


class ChatUser(Base):
    """A person as chat knows them: a profile mirrored from the Txn-Token, plus presence."""

    __tablename__ = "chat_users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    # Presence ("last seen"); written at most once a minute, see people.touch_presence.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Channel(Base):
    """A public or private channel, or a direct-message conversation (kind ``dm``)."""

    __tablename__ = "chat_channels"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[ChannelKind] = mapped_column(
        Enum(ChannelKind, name="chat_channel_kind", native_enum=False, length=16,
             values_callable=lambda kinds: [k.value for k in kinds])
    )
    # Channels have a unique name; DMs have none (NULLs never collide in a unique index).
    name: Mapped[str | None] = mapped_column(String(80), unique=True)
    # A DM's sorted member ids: the unique key that makes "find or create" race-safe.
    dm_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    topic: Mapped[str] = mapped_column(String(250), default="")
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Member(Base):
    """Membership of a person in a channel, and their read position in it."""

    __tablename__ = "chat_members"

    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_channels.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), primary_key=True, index=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # 0 means "nothing read yet"; message ids start at 1.
    last_read_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # Who last moved the read position when an agent did it for the person (its actor
    # ``sub`` and name); NULL when the person themself did, so they can see who did it.
    read_marked_by: Mapped[str | None] = mapped_column(String(200))
    read_marked_by_name: Mapped[str | None] = mapped_column(String(200))


class Message(Base):
    """A message; a reply has ``thread_id`` = its parent, which keeps reply_count current."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        # The channel's main list and unread counts: range scans on (channel, thread IS NULL, id).
        # author_id makes the unread count ("not mine") an index-only scan.
        Index("ix_chat_messages_channel_thread_id", "channel_id", "thread_id", "id", "author_id"),
        # The newest message of a channel, whatever thread it is in.
        Index("ix_chat_messages_channel_id_id", "channel_id", "id"),
    )

    # An integer id: cursors and read positions compare ids, so ordering is cheap and stable.
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_channels.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_users.id"))
    thread_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("chat_messages.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Kept on the parent when a reply is posted, so a page never aggregates its threads.
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    last_reply_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The agent that posted it for the author (actor ``sub`` and name), shown to everyone as
    # "author via agent"; NULL when the person posted it themself.
    via_agent: Mapped[str | None] = mapped_column(String(200))
    via_name: Mapped[str | None] = mapped_column(String(200))


class Mention(Base):
    """An @mention of a person (who can see the channel) in a message."""

    __tablename__ = "chat_mentions"
    __table_args__ = (
        # Mention counts: mentions of me in a channel after my read position.
        Index("ix_chat_mentions_user_channel_message", "user_id", "channel_id", "message_id"),
    )

    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chat_messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), primary_key=True)
    # Denormalised from the message so the count above needs no join.
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_channels.id", ondelete="CASCADE"))


class AgentCursor(Base):
    """How far one agent has looked in a channel for one person: its own place, not theirs.

    Keyed by (person, agent, channel); the agent is the acting actor's ``sub`` from the
    Txn-Token (a sub-agent has its own). Moving it changes nothing the person can see:
    their read position, unread counts and receipts live on :class:`Member`.
    """

    __tablename__ = "chat_agent_cursors"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_users.id", ondelete="CASCADE"), primary_key=True)
    agent: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_channels.id", ondelete="CASCADE"), primary_key=True, index=True)
    # The newest message id the agent has seen; 0: it has not looked yet.
    last_seen_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
