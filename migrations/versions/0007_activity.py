"""Gateway: the activity record (append-only, hash-chained) and its chain head.

On PostgreSQL a trigger refuses UPDATE and DELETE on ``gw_activity``: the record is
append-only even for code that forgets it. TRUNCATE is left to the table's owner (the
tests empty every table between tests); emptying the table while the head row still
names the newest entry is caught by ``agentgate activity verify``, as is any edit on
SQLite, which gets no trigger: there the hash chain alone makes tampering detectable.

Revision ID: 0007_activity
Revises: 0006_agent_cursors
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import UTCDateTime

revision: str = "0007_activity"
down_revision: str | None = "0006_agent_cursors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION gw_activity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gw_activity is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER gw_activity_append_only BEFORE UPDATE OR DELETE ON gw_activity
FOR EACH ROW EXECUTE FUNCTION gw_activity_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "gw_activity",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("actors", sa.JSON(), nullable=False),
        sa.Column("agent_sub", sa.String(255), nullable=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("operation_id", sa.String(128), nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("effects", sa.String(16), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("problem_type", sa.String(255), nullable=True),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_gw_activity"),
        sa.UniqueConstraint("hash", name="uq_gw_activity_hash"),
    )
    op.create_index("ix_gw_activity_user_id_seq", "gw_activity", ["user_id", "seq"])
    op.create_index("ix_gw_activity_user_id_agent_sub_seq", "gw_activity",
                    ["user_id", "agent_sub", "seq"])
    head = op.create_table(
        "gw_activity_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gw_activity_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS gw_activity_append_only ON gw_activity")
        op.execute("DROP FUNCTION IF EXISTS gw_activity_append_only()")
    op.drop_table("gw_activity_head")
    op.drop_table("gw_activity")
