"""Gateway: people, web sessions, login throttle, signing keys.

Revision ID: 0001_gateway
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import UTCDateTime

revision: str = "0001_gateway"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gw_users"),
        sa.UniqueConstraint("username", name="uq_gw_users_username"),
        sa.UniqueConstraint("email", name="uq_gw_users_email"),
    )
    op.create_table(
        "gw_web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["gw_users.id"], ondelete="CASCADE",
                                name="fk_gw_web_sessions_user_id_gw_users"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_gw_web_sessions"),
    )
    op.create_index("ix_gw_web_sessions_user_id", "gw_web_sessions", ["user_id"])
    op.create_table(
        "gw_login_failures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(254), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gw_login_failures"),
    )
    op.create_index("ix_gw_login_failures_username_at", "gw_login_failures", ["username", "at"])
    op.create_index("ix_gw_login_failures_address_at", "gw_login_failures", ["address", "at"])
    op.create_table(
        "gw_signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_gw_signing_keys"),
    )
    op.create_index("ix_gw_signing_keys_purpose", "gw_signing_keys", ["purpose"])


def downgrade() -> None:
    op.drop_index("ix_gw_signing_keys_purpose", table_name="gw_signing_keys")
    op.drop_table("gw_signing_keys")
    op.drop_index("ix_gw_login_failures_address_at", table_name="gw_login_failures")
    op.drop_index("ix_gw_login_failures_username_at", table_name="gw_login_failures")
    op.drop_table("gw_login_failures")
    op.drop_index("ix_gw_web_sessions_user_id", table_name="gw_web_sessions")
    op.drop_table("gw_web_sessions")
    op.drop_table("gw_users")
