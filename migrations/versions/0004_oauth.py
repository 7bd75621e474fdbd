"""Gateway: agents (OAuth clients), grants, revocations, codes, refresh and device codes.

Revision ID: 0004_oauth
Revises: 0003_rides
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import BigIntPK, UTCDateTime

revision: str = "0004_oauth"
down_revision: str | None = "0003_rides"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE"
        ) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "gw_agents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("registration", sa.String(24), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("publisher", sa.String(200), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(32), nullable=False),
        sa.Column("client_secret_hash", sa.String(255), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jwks_uri", sa.String(2048), nullable=True),
        sa.Column("client_metadata", sa.JSON(), nullable=False),
        sa.Column("metadata_expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        _fk("gw_agents", "owner_id", "gw_users", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_gw_agents"),
        sa.UniqueConstraint("client_id", name="uq_gw_agents_client_id"),
    )
    op.create_index("ix_gw_agents_owner_id", "gw_agents", ["owner_id"])

    op.create_table(
        "gw_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("authorization_details", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        _fk("gw_grants", "user_id", "gw_users"),
        _fk("gw_grants", "agent_id", "gw_agents"),
        _fk("gw_grants", "parent_id", "gw_grants"),
        sa.PrimaryKeyConstraint("id", name="pk_gw_grants"),
    )
    for column in ("user_id", "agent_id", "parent_id"):
        op.create_index(f"ix_gw_grants_{column}", "gw_grants", [column])

    op.create_table(
        "gw_revocations",
        sa.Column("id", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("min_version", sa.Integer(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_revocations"),
    )
    op.create_index("ix_gw_revocations_revoked_at", "gw_revocations", ["revoked_at"])

    op.create_table(
        "gw_authorization_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(2048), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("resource", sa.String(2048), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(8), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        _fk("gw_authorization_codes", "agent_id", "gw_agents"),
        _fk("gw_authorization_codes", "user_id", "gw_users"),
        _fk("gw_authorization_codes", "grant_id", "gw_grants"),
        sa.PrimaryKeyConstraint("code_hash", name="pk_gw_authorization_codes"),
    )
    op.create_index("ix_gw_authorization_codes_agent_id", "gw_authorization_codes",
                    ["agent_id"])

    op.create_table(
        "gw_refresh_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("resource", sa.String(2048), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        _fk("gw_refresh_tokens", "grant_id", "gw_grants"),
        _fk("gw_refresh_tokens", "agent_id", "gw_agents"),
        _fk("gw_refresh_tokens", "user_id", "gw_users"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_gw_refresh_tokens"),
    )
    op.create_index("ix_gw_refresh_tokens_family_id", "gw_refresh_tokens", ["family_id"])
    op.create_index("ix_gw_refresh_tokens_grant_id", "gw_refresh_tokens", ["grant_id"])

    op.create_table(
        "gw_device_codes",
        sa.Column("device_code_hash", sa.String(64), nullable=False),
        sa.Column("user_code", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("resource", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("grant_id", sa.Uuid(), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        _fk("gw_device_codes", "agent_id", "gw_agents"),
        _fk("gw_device_codes", "user_id", "gw_users"),
        _fk("gw_device_codes", "grant_id", "gw_grants"),
        sa.PrimaryKeyConstraint("device_code_hash", name="pk_gw_device_codes"),
        sa.UniqueConstraint("user_code", name="uq_gw_device_codes_user_code"),
    )
    op.create_index("ix_gw_device_codes_agent_id", "gw_device_codes", ["agent_id"])


def downgrade() -> None:
    for table in ("gw_device_codes", "gw_refresh_tokens", "gw_authorization_codes",
                  "gw_revocations", "gw_grants", "gw_agents"):
        op.drop_table(table)
