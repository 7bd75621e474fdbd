"""The rides service's tables: places, quotes, trips.

Revision ID: 0003_rides
Revises: 0002_chat
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import UTCDateTime

revision: str = "0003_rides"
down_revision: str | None = "0002_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rides_places",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rides_places"),
    )
    op.create_index("ix_rides_places_name", "rides_places", ["name"])
    op.create_index("ix_rides_places_owner_id", "rides_places", ["owner_id"])
    op.create_table(
        "rides_quotes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rider_id", sa.String(64), nullable=False),
        sa.Column("pickup_id", sa.Uuid(), nullable=False),
        sa.Column("dropoff_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("base_fare", sa.Integer(), nullable=False),
        sa.Column("distance_fare", sa.Integer(), nullable=False),
        sa.Column("time_fare", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["pickup_id"], ["rides_places.id"],
                                name="fk_rides_quotes_pickup_id_rides_places"),
        sa.ForeignKeyConstraint(["dropoff_id"], ["rides_places.id"],
                                name="fk_rides_quotes_dropoff_id_rides_places"),
        sa.PrimaryKeyConstraint("id", name="pk_rides_quotes"),
    )
    op.create_index("ix_rides_quotes_rider_id", "rides_quotes", ["rider_id"])
    op.create_table(
        "rides_trips",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("rider_id", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(100), nullable=False),
        sa.Column("amount_paid", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("driver_id", sa.String(16), nullable=False),
        sa.Column("booked_at", UTCDateTime(), nullable=False),
        sa.Column("driver_assigned_at", UTCDateTime(), nullable=False),
        sa.Column("picked_up_at", UTCDateTime(), nullable=False),
        sa.Column("completes_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancellation_fee", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["quote_id"], ["rides_quotes.id"],
                                name="fk_rides_trips_quote_id_rides_quotes"),
        sa.PrimaryKeyConstraint("id", name="pk_rides_trips"),
        sa.UniqueConstraint("quote_id", name="uq_rides_trips_quote_id"),
    )
    op.create_index("ix_rides_trips_rider_id_booked_at", "rides_trips", ["rider_id", "booked_at"])


def downgrade() -> None:
    op.drop_index("ix_rides_trips_rider_id_booked_at", table_name="rides_trips")
    op.drop_table("rides_trips")
    op.drop_index("ix_rides_quotes_rider_id", table_name="rides_quotes")
    op.drop_table("rides_quotes")
    op.drop_index("ix_rides_places_owner_id", table_name="rides_places")
    op.drop_index("ix_rides_places_name", table_name="rides_places")
    op.drop_table("rides_places")
