"""The rides service's tables (prefix ``rides_``).

A quote freezes a price for a few minutes; a trip is a paid, booked quote. A trip
stores its schedule (when the simulated driver is assigned, picks the rider up and
arrives) rather than its status, so the status is derived from the clock and reading
a trip never writes.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import UTCDateTime, naming_metadata
from services.rides.lifecycle import Schedule


class Base(DeclarativeBase):
    metadata = naming_metadata()


class Place(Base):
    """A named point a ride can start or end at. Home addresses belong to one person."""

    __tablename__ = "rides_places"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # None: a public place anyone may see. Otherwise only this person (ctx.sub) sees it.
    owner_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)


class Quote(Base):
    """A price for one ride, held until ``expires_at``. Amounts are in minor units."""

    __tablename__ = "rides_quotes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    rider_id: Mapped[str] = mapped_column(String(64), index=True)
    pickup_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rides_places.id"))
    dropoff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rides_places.id"))
    product: Mapped[str] = mapped_column(String(16))
    distance_m: Mapped[int] = mapped_column(Integer)
    duration_min: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # The breakdown is stored, not recomputed, so a later tariff change can't alter a quote.
    base_fare: Mapped[int] = mapped_column(Integer)
    distance_fare: Mapped[int] = mapped_column(Integer)
    time_fare: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    pickup: Mapped[Place] = relationship(foreign_keys=[pickup_id], lazy="raise")
    dropoff: Mapped[Place] = relationship(foreign_keys=[dropoff_id], lazy="raise")

    @property
    def reference(self) -> str:
        """The stable payment reference for this quote: the gateway pays against it."""
        return f"quote:{self.id}"


class Trip(Base):
    """A booked ride: the quote it was paid for, the payment, and its schedule."""

    __tablename__ = "rides_trips"
    __table_args__ = (Index("ix_rides_trips_rider_id_booked_at", "rider_id", "booked_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Unique: the database, not a read-then-write check, guarantees one trip per quote.
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rides_quotes.id"), unique=True)
    rider_id: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str] = mapped_column(String(100))
    amount_paid: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    driver_id: Mapped[str] = mapped_column(String(16))
    booked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    driver_assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    completes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    cancellation_fee: Mapped[int | None] = mapped_column(Integer, default=None)

    quote: Mapped[Quote] = relationship(lazy="raise")

    @property
    def plan(self) -> Schedule:
        """The schedule fixed when the trip was booked."""
        return Schedule(booked_at=self.booked_at, driver_assigned_at=self.driver_assigned_at,
                        picked_up_at=self.picked_up_at, completes_at=self.completes_at)
