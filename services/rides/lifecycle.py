"""A trip's life with a simulated driver, and what cancelling it costs.

Nothing here runs in the background: booking fixes a schedule, and a trip's status
at any moment is a function of that schedule and the clock. So reading a trip has
no side effects, and tests move through the whole life by moving the clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum

DRIVER_ASSIGNED_AFTER = dt.timedelta(seconds=30)
PICKED_UP_AFTER = dt.timedelta(minutes=3)
FREE_CANCELLATION_WINDOW = dt.timedelta(minutes=2)
CANCELLATION_FEE = 500  # minor units, capped at the fare


class TripStatus(StrEnum):
    REQUESTED = "requested"
    DRIVER_ASSIGNED = "driver_assigned"
    PICKED_UP = "picked_up"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Driver:
    id: str
    name: str
    car: str
    plate: str
    rating: float


# The simulated fleet. Ids are stored on trips, so an entry is never renumbered.
FLEET: tuple[Driver, ...] = (
    Driver("drv-01", "Karim Benali", "Toyota Prius, white", "GH-482-KL", 4.9),
    Driver("drv-02", "Sophie Laurent", "Peugeot 508, grey", "FT-219-PR", 4.8),
    Driver("drv-03", "Mamadou Diallo", "Skoda Octavia, black", "EK-730-WB", 4.7),
    Driver("drv-04", "Lucie Moreau", "Tesla Model 3, blue", "HN-105-ZC", 5.0),
    Driver("drv-05", "Thomas Nguyen", "Renault Espace, black", "DL-664-MS", 4.6),
)
DRIVERS = {d.id: d for d in FLEET}


@dataclass(frozen=True)
class Schedule:
    """When each step of a booked trip happens."""

    booked_at: dt.datetime
    driver_assigned_at: dt.datetime
    picked_up_at: dt.datetime
    completes_at: dt.datetime


def schedule(booked_at: dt.datetime, duration_min: int) -> Schedule:
    """Plan a trip booked at ``booked_at`` that lasts ``duration_min`` once picked up."""
    picked_up_at = booked_at + PICKED_UP_AFTER
    return Schedule(
        booked_at=booked_at,
        driver_assigned_at=booked_at + DRIVER_ASSIGNED_AFTER,
        picked_up_at=picked_up_at,
        completes_at=picked_up_at + dt.timedelta(minutes=duration_min),
    )


def driver_for(trip_id: uuid.UUID) -> Driver:
    """Choose the trip's driver: deterministic, so a replayed booking gets the same one."""
    return FLEET[trip_id.int % len(FLEET)]


def status_at(plan: Schedule, cancelled_at: dt.datetime | None, now: dt.datetime) -> TripStatus:
    """Return a trip's status at ``now``."""
    if cancelled_at is not None:
        return TripStatus.CANCELLED
    if now >= plan.completes_at:
        return TripStatus.COMPLETED
    if now >= plan.picked_up_at:
        return TripStatus.PICKED_UP
    if now >= plan.driver_assigned_at:
        return TripStatus.DRIVER_ASSIGNED
    return TripStatus.REQUESTED


@dataclass(frozen=True)
class Settlement:
    """How a cancelled trip's payment splits: ``fee + refund == paid``."""

    fee: int
    refund: int


CANCELLABLE = frozenset({TripStatus.REQUESTED, TripStatus.DRIVER_ASSIGNED})


def cancellation_settlement(plan: Schedule, paid: int, now: dt.datetime) -> Settlement:
    """Split ``paid`` when the rider cancels at ``now`` (the caller checks it may cancel).

    Free within the grace window after booking or while no driver is on the way;
    after that the fee pays the driver's wasted trip, never more than the fare.
    """
    free = now - plan.booked_at <= FREE_CANCELLATION_WINDOW or now < plan.driver_assigned_at
    fee = 0 if free else min(CANCELLATION_FEE, paid)
    return Settlement(fee=fee, refund=paid - fee)
