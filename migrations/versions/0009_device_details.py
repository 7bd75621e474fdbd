"""Gateway: a device authorization keeps the RFC 9396 details it asked for (issue 5, item 2).

``gw_device_codes.authorization_details``: the validated ``authorization_details`` of
the device authorization request (a payment mandate), shown on the /device page and
copied onto the grant when the person approves. Rows made before this ask for none.

Revision ID: 0009_device_details
Revises: 0008_payments
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_device_details"
down_revision: str | None = "0008_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "gw_device_codes",
        sa.Column(
            "authorization_details", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
        ),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place.
    op.drop_column("gw_device_codes", "authorization_details")
