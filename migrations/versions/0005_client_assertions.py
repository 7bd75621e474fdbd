"""Gateway: the used jtis of private_key_jwt client assertions (RFC 7523), for replay checks.

Revision ID: 0005_client_assertions
Revises: 0004_oauth
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import UTCDateTime

revision: str = "0005_client_assertions"
down_revision: str | None = "0004_oauth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_used_client_assertions",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name="pk_gw_used_client_assertions"),
    )
    op.create_index("ix_gw_used_client_assertions_expires_at", "gw_used_client_assertions",
                    ["expires_at"])


def downgrade() -> None:
    op.drop_table("gw_used_client_assertions")
