"""The chat service's tables, and full-text search over messages.

Search is dialect-specific DDL: SQLite gets an external-content FTS5 table kept in
sync by triggers; PostgreSQL gets a GIN index on ``to_tsvector('english', text)``,
which the database keeps current by itself. Both cover bulk inserts too.

Revision ID: 0002_chat
Revises: 0001_gateway
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import BigIntPK, UTCDateTime

revision: str = "0002_chat"
down_revision: str | None = "0001_gateway"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = [
    # porter: stem words as PostgreSQL's 'english' configuration does, so both backends agree.
    "CREATE VIRTUAL TABLE chat_messages_fts USING fts5("
    "text, content='chat_messages', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER chat_messages_fts_insert AFTER INSERT ON chat_messages BEGIN "
    "INSERT INTO chat_messages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER chat_messages_fts_delete AFTER DELETE ON chat_messages BEGIN "
    "INSERT INTO chat_messages_fts(chat_messages_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER chat_messages_fts_update AFTER UPDATE OF text ON chat_messages BEGIN "
    "INSERT INTO chat_messages_fts(chat_messages_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO chat_messages_fts(rowid, text) VALUES (new.id, new.text); END",
]
SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS chat_messages_fts_update",
    "DROP TRIGGER IF EXISTS chat_messages_fts_delete",
    "DROP TRIGGER IF EXISTS chat_messages_fts_insert",
    "DROP TABLE IF EXISTS chat_messages_fts",
]
# Must match services/chat/search.py exactly, or the planner can't use the index.
POSTGRES_FTS = (
    "CREATE INDEX ix_chat_messages_search ON chat_messages "
    "USING gin (to_tsvector('english'::regconfig, text))"
)
POSTGRES_FTS_DROP = "DROP INDEX IF EXISTS ix_chat_messages_search"


def upgrade() -> None:
    op.create_table(
        "chat_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_users"),
        sa.UniqueConstraint("username", name="uq_chat_users_username"),
    )
    op.create_table(
        "chat_channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=True),
        sa.Column("dm_key", sa.String(400), nullable=True),
        sa.Column("topic", sa.String(250), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["chat_users.id"],
                                name="fk_chat_channels_created_by_chat_users"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_channels"),
        sa.UniqueConstraint("name", name="uq_chat_channels_name"),
        sa.UniqueConstraint("dm_key", name="uq_chat_channels_dm_key"),
    )
    op.create_table(
        "chat_members",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("last_read_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["chat_channels.id"], ondelete="CASCADE",
                                name="fk_chat_members_channel_id_chat_channels"),
        sa.ForeignKeyConstraint(["user_id"], ["chat_users.id"], ondelete="CASCADE",
                                name="fk_chat_members_user_id_chat_users"),
        sa.PrimaryKeyConstraint("channel_id", "user_id", name="pk_chat_members"),
    )
    op.create_index("ix_chat_members_user_id", "chat_members", ["user_id"])
    op.create_table(
        "chat_messages",
        sa.Column("id", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("reply_count", sa.Integer(), nullable=False),
        sa.Column("last_reply_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["chat_channels.id"], ondelete="CASCADE",
                                name="fk_chat_messages_channel_id_chat_channels"),
        sa.ForeignKeyConstraint(["author_id"], ["chat_users.id"],
                                name="fk_chat_messages_author_id_chat_users"),
        sa.ForeignKeyConstraint(["thread_id"], ["chat_messages.id"], ondelete="CASCADE",
                                name="fk_chat_messages_thread_id_chat_messages"),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
    )
    op.create_index("ix_chat_messages_channel_thread_id", "chat_messages",
                    ["channel_id", "thread_id", "id", "author_id"])
    op.create_index("ix_chat_messages_channel_id_id", "chat_messages", ["channel_id", "id"])
    op.create_table(
        "chat_mentions",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["chat_messages.id"], ondelete="CASCADE",
                                name="fk_chat_mentions_message_id_chat_messages"),
        sa.ForeignKeyConstraint(["user_id"], ["chat_users.id"], ondelete="CASCADE",
                                name="fk_chat_mentions_user_id_chat_users"),
        sa.ForeignKeyConstraint(["channel_id"], ["chat_channels.id"], ondelete="CASCADE",
                                name="fk_chat_mentions_channel_id_chat_channels"),
        sa.PrimaryKeyConstraint("message_id", "user_id", name="pk_chat_mentions"),
    )
    op.create_index("ix_chat_mentions_user_channel_message", "chat_mentions",
                    ["user_id", "channel_id", "message_id"])

    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(POSTGRES_FTS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS_DROP:
            op.execute(statement)
    else:
        op.execute(POSTGRES_FTS_DROP)
    op.drop_index("ix_chat_mentions_user_channel_message", table_name="chat_mentions")
    op.drop_table("chat_mentions")
    op.drop_index("ix_chat_messages_channel_id_id", table_name="chat_messages")
    op.drop_index("ix_chat_messages_channel_thread_id", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_chat_members_user_id", table_name="chat_members")
    op.drop_table("chat_members")
    op.drop_table("chat_channels")
    op.drop_table("chat_users")
