"""Chat: agents keep their own place, and who acted is recorded (issue 4, items 3 and 4).

- ``chat_agent_cursors``: per (person, agent, channel), the newest message the agent
  has seen, apart from the person's read position;
- ``chat_members.read_marked_by[_name]``: the agent that last moved the person's read
  position for them (NULL: the person themself);
- ``chat_messages.via_agent``/``via_name``: the agent that posted a message for its author.

Revision ID: 0006_agent_cursors
Revises: 0005_client_assertions
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import UTCDateTime

revision: str = "0006_agent_cursors"
down_revision: str | None = "0005_client_assertions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED = {
    "chat_members": ("read_marked_by", "read_marked_by_name"),
    "chat_messages": ("via_agent", "via_name"),
}


def upgrade() -> None:
    # Nullable columns: a plain ALTER TABLE ADD COLUMN on both backends, no table rebuild
    # (which on SQLite would drop chat_messages' full-text triggers).
    for table, columns in ADDED.items():
        for column in columns:
            op.add_column(table, sa.Column(column, sa.String(200), nullable=True))
    op.create_table(
        "chat_agent_cursors",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("last_seen_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["chat_users.id"], ondelete="CASCADE",
                                name="fk_chat_agent_cursors_user_id_chat_users"),
        sa.ForeignKeyConstraint(["channel_id"], ["chat_channels.id"], ondelete="CASCADE",
                                name="fk_chat_agent_cursors_channel_id_chat_channels"),
        sa.PrimaryKeyConstraint("user_id", "agent", "channel_id", name="pk_chat_agent_cursors"),
    )
    op.create_index("ix_chat_agent_cursors_channel_id", "chat_agent_cursors", ["channel_id"])


def downgrade() -> None:
    op.drop_table("chat_agent_cursors")
    # SQLite (3.35+) drops a column in place, so the full-text triggers survive.
    for table, columns in ADDED.items():
        for column in columns:
            op.drop_column(table, column)
