"""A trip's status follows its schedule; cancelling splits the payment into fee + refund."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.rides.lifecycle import (
    CANCELLATION_FEE,
    FLEET,
    Schedule,
    TripStatus,
    cancellation_settlement,
    driver_for,
    schedule,
    status_at,
)

BOOKED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PLAN = schedule(BOOKED, duration_min=20)


@pytest.mark.parametrize(("after", "status"), [
    (dt.timedelta(0), TripStatus.REQUESTED),
    (dt.timedelta(seconds=29), TripStatus.REQUESTED),
    (dt.timedelta(seconds=30), TripStatus.DRIVER_ASSIGNED),
    (dt.timedelta(minutes=3), TripStatus.PICKED_UP),
    (dt.timedelta(minutes=22, seconds=59), TripStatus.PICKED_UP),
    (dt.timedelta(minutes=23), TripStatus.COMPLETED),
    (dt.timedelta(days=30), TripStatus.COMPLETED),
])
def test_status_follows_the_schedule(after: dt.timedelta, status: TripStatus) -> None:
    assert status_at(PLAN, None, BOOKED + after) is status


def test_a_cancelled_trip_stays_cancelled() -> None:
    assert status_at(PLAN, BOOKED, BOOKED + dt.timedelta(days=1)) is TripStatus.CANCELLED


def test_the_driver_is_chosen_deterministically_from_the_fleet() -> None:
    trip_id = uuid.uuid4()

    assert driver_for(trip_id) == driver_for(trip_id)
    assert driver_for(trip_id) in FLEET


def test_cancelling_within_the_grace_window_is_free() -> None:
    settlement = cancellation_settlement(PLAN, 2500, BOOKED + dt.timedelta(minutes=2))

    assert (settlement.fee, settlement.refund) == (0, 2500)


def test_cancelling_after_the_grace_window_costs_the_fee() -> None:
    settlement = cancellation_settlement(PLAN, 2500, BOOKED + dt.timedelta(minutes=2, seconds=1))

    assert (settlement.fee, settlement.refund) == (CANCELLATION_FEE, 2500 - CANCELLATION_FEE)


def test_cancelling_before_a_driver_is_assigned_is_free_even_after_the_window() -> None:
    # A schedule in which the driver is slow to come: the window has passed, no driver yet.
    slow = Schedule(booked_at=BOOKED, driver_assigned_at=BOOKED + dt.timedelta(minutes=5),
                    picked_up_at=BOOKED + dt.timedelta(minutes=8),
                    completes_at=BOOKED + dt.timedelta(minutes=28))

    settlement = cancellation_settlement(slow, 2500, BOOKED + dt.timedelta(minutes=4))

    assert settlement.fee == 0


def test_the_fee_never_exceeds_the_fare() -> None:
    settlement = cancellation_settlement(PLAN, 300, BOOKED + dt.timedelta(minutes=2, seconds=30))

    assert (settlement.fee, settlement.refund) == (300, 0)


@given(paid=st.integers(min_value=0, max_value=1_000_000),
       seconds=st.integers(min_value=0, max_value=179))
def test_fee_and_refund_always_add_up_to_what_was_paid(paid: int, seconds: int) -> None:
    settlement = cancellation_settlement(PLAN, paid, BOOKED + dt.timedelta(seconds=seconds))

    assert settlement.fee + settlement.refund == paid
    assert 0 <= settlement.fee <= min(paid, CANCELLATION_FEE)
