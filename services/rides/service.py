"""The rides service's operations: places, quotes, trips. Flushes, never commits.

Every query is scoped to the rider (``ctx.sub``): someone else's quote or trip is
"not found", never "forbidden", so ids leak nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.common.txn_token import Payment
from services.rides import errors
from services.rides.lifecycle import (
    CANCELLABLE,
    Settlement,
    TripStatus,
    cancellation_settlement,
    driver_for,
    schedule,
    status_at,
)
from services.rides.models import Place, Quote, Trip
from services.rides.pagination import decode_cursor, encode_cursor
from services.rides.pricing import PRODUCT_LABELS, Product, estimate, haversine_km, price
from services.rides.schemas import PlaceCursor, QuoteRequest, TripCursor

QUOTE_LIFETIME = dt.timedelta(minutes=5)
# The payment id the gateway sends with a dry-run: nothing was charged.
DRY_RUN_PAYMENT = "dry-run"


# -- places -------------------------------------------------------------------------


def _visible_to(rider_id: str) -> ColumnElement[bool]:
    """Public places, and the rider's own (their home is nobody else's business)."""
    return or_(Place.owner_id.is_(None), Place.owner_id == rider_id)


async def search_places(session: AsyncSession, rider_id: str, *, q: str | None,
                        cursor: str | None, limit: int) -> tuple[Sequence[Place], str | None]:
    """Return one page of places whose name contains ``q``, by name."""
    stmt = select(Place).where(_visible_to(rider_id)).order_by(Place.name, Place.id)
    if q:
        # autoescape: a % or _ in the query is a character to find, not a wildcard.
        stmt = stmt.where(Place.name.icontains(q, autoescape=True))
    if cursor:
        key = decode_cursor(cursor, PlaceCursor)
        stmt = stmt.where(or_(Place.name > key.name,
                              and_(Place.name == key.name, Place.id > key.id)))
    places = (await session.scalars(stmt.limit(limit + 1))).all()
    if len(places) <= limit:
        return places, None
    last = places[limit - 1]
    return places[:limit], encode_cursor(PlaceCursor(name=last.name, id=last.id))


async def get_place(session: AsyncSession, rider_id: str, place_id: uuid.UUID) -> Place:
    """Return a place the rider may see."""
    place = await session.scalar(select(Place).where(Place.id == place_id,
                                                     _visible_to(rider_id)))
    if place is None:
        raise errors.PlaceNotFound
    return place


# -- quotes -------------------------------------------------------------------------


def new_quote(rider_id: str, pickup: Place, dropoff: Place, product: Product,
              now: dt.datetime, *, quote_id: uuid.UUID | None = None) -> Quote:
    """Build (not store) the quote for a ride between two places."""
    trip = estimate(haversine_km(pickup.latitude, pickup.longitude,
                                 dropoff.latitude, dropoff.longitude))
    fare = price(product, trip)
    return Quote(
        id=quote_id or uuid.uuid4(), rider_id=rider_id, pickup=pickup, dropoff=dropoff,
        product=product.value, distance_m=trip.distance_m, duration_min=trip.duration_min,
        currency=fare.currency, base_fare=fare.base_fare, distance_fare=fare.distance_fare,
        time_fare=fare.time_fare, amount=fare.amount, created_at=now,
        expires_at=now + QUOTE_LIFETIME,
    )


async def create_quote(session: AsyncSession, rider_id: str, request: QuoteRequest,
                       now: dt.datetime) -> Quote:
    """Price a ride between two places and hold the price for a few minutes."""
    pickup = await get_place(session, rider_id, request.pickup_place_id)
    dropoff = await get_place(session, rider_id, request.dropoff_place_id)
    quote = new_quote(rider_id, pickup, dropoff, request.product, now)
    session.add(quote)
    await session.flush()
    return quote


def _quotes_of(rider_id: str) -> Select[Quote]:
    return select(Quote).where(Quote.rider_id == rider_id).options(
        selectinload(Quote.pickup), selectinload(Quote.dropoff))


async def get_quote(session: AsyncSession, rider_id: str, quote_id: uuid.UUID) -> Quote:
    """Return one of the rider's quotes."""
    quote = await session.scalar(_quotes_of(rider_id).where(Quote.id == quote_id))
    if quote is None:
        raise errors.QuoteNotFound
    return quote


# -- trips --------------------------------------------------------------------------


def _trips_of(rider_id: str) -> Select[Trip]:
    return select(Trip).where(Trip.rider_id == rider_id).options(
        selectinload(Trip.quote).selectinload(Quote.pickup),
        selectinload(Trip.quote).selectinload(Quote.dropoff),
    )


def describe(quote: Quote) -> str:
    """Say what a payment for this quote buys, for the person's ledger."""
    label = PRODUCT_LABELS[Product(quote.product)]
    return f"{label} ride from {quote.pickup.name} to {quote.dropoff.name}"


def _check_payment(quote: Quote, payment: Payment | None) -> Payment:
    """Ask for payment (402) or make sure the one the gateway made is for this quote."""
    if payment is None:
        raise errors.PaymentRequired(amount=quote.amount, currency=quote.currency,
                                     reference=quote.reference, description=describe(quote))
    expected = {"amount": quote.amount, "currency": quote.currency,
                "reference": quote.reference}
    if {"amount": payment.amount, "currency": payment.currency,
            "reference": payment.reference} != expected:
        raise errors.PaymentMismatch(expected=expected)
    return payment


def new_trip(quote: Quote, payment: Payment, now: dt.datetime, *,
             trip_id: uuid.UUID | None = None) -> Trip:
    """Build (not store) the trip a paid quote becomes when booked at ``now``."""
    trip_id = trip_id or uuid.uuid4()
    plan = schedule(now, quote.duration_min)
    return Trip(
        id=trip_id, quote=quote, rider_id=quote.rider_id, payment_id=payment.id,
        amount_paid=payment.amount, currency=payment.currency,
        driver_id=driver_for(trip_id).id, booked_at=plan.booked_at,
        driver_assigned_at=plan.driver_assigned_at, picked_up_at=plan.picked_up_at,
        completes_at=plan.completes_at,
    )


async def book_trip(session: AsyncSession, rider_id: str, quote_id: uuid.UUID,
                    payment: Payment | None, now: dt.datetime, *, dry_run: bool = False) -> Trip:
    """Book a quoted ride, once it is paid; a driver is on the way at once.

    A dry-run asks for payment like a live call; the gateway answers it with a
    pretend payment (id "dry-run") that only a dry-run may carry, and the caller
    rolls the trip back.
    """
    quote = await get_quote(session, rider_id, quote_id)
    if await session.scalar(select(Trip.id).where(Trip.quote_id == quote.id)) is not None:
        raise errors.QuoteAlreadyBooked
    if now >= quote.expires_at:
        raise errors.QuoteExpired
    if payment is not None and payment.id == DRY_RUN_PAYMENT and not dry_run:
        raise errors.PaymentMismatch(expected={"id": "a real payment"})
    trip = new_trip(quote, _check_payment(quote, payment), now)
    session.add(trip)
    try:
        await session.flush()
    except IntegrityError as exc:
        # A concurrent booking of the same quote won the unique index; the gateway
        # voids this payment when it sees the conflict.
        raise errors.QuoteAlreadyBooked from exc
    return trip


def _status_is(status: TripStatus, now: dt.datetime) -> ColumnElement[bool]:
    """The SQL twin of ``lifecycle.status_at``, so history can be filtered in the query."""
    if status is TripStatus.CANCELLED:
        return Trip.cancelled_at.is_not(None)
    live = Trip.cancelled_at.is_(None)
    match status:
        case TripStatus.REQUESTED:
            return and_(live, Trip.driver_assigned_at > now)
        case TripStatus.DRIVER_ASSIGNED:
            return and_(live, Trip.driver_assigned_at <= now, Trip.picked_up_at > now)
        case TripStatus.PICKED_UP:
            return and_(live, Trip.picked_up_at <= now, Trip.completes_at > now)
        case _:
            return and_(live, Trip.completes_at <= now)


async def list_trips(session: AsyncSession, rider_id: str, now: dt.datetime, *,
                     status: TripStatus | None, cursor: str | None,
                     limit: int) -> tuple[Sequence[Trip], str | None]:
    """Return one page of the rider's trips, newest first."""
    stmt = _trips_of(rider_id).order_by(Trip.booked_at.desc(), Trip.id.desc())
    if status is not None:
        stmt = stmt.where(_status_is(status, now))
    if cursor:
        key = decode_cursor(cursor, TripCursor)
        stmt = stmt.where(or_(Trip.booked_at < key.booked_at,
                              and_(Trip.booked_at == key.booked_at, Trip.id < key.id)))
    trips = (await session.scalars(stmt.limit(limit + 1))).all()
    if len(trips) <= limit:
        return trips, None
    last = trips[limit - 1]
    return trips[:limit], encode_cursor(TripCursor(booked_at=last.booked_at, id=last.id))


async def get_trip(session: AsyncSession, rider_id: str, trip_id: uuid.UUID) -> Trip:
    """Return one of the rider's trips."""
    trip = await session.scalar(_trips_of(rider_id).where(Trip.id == trip_id))
    if trip is None:
        raise errors.TripNotFound
    return trip


async def cancel_trip(session: AsyncSession, rider_id: str, trip_id: uuid.UUID,
                      now: dt.datetime) -> tuple[Trip, Settlement]:
    """Cancel a trip before pickup; say how much is kept as a fee and how much refunded."""
    trip = await get_trip(session, rider_id, trip_id)
    status = status_at(trip.plan, trip.cancelled_at, now)
    if status not in CANCELLABLE:
        raise errors.TripNotCancellable(status)
    settlement = cancellation_settlement(trip.plan, trip.amount_paid, now)
    # Conditional update: of two concurrent cancellations only one matches, so a
    # payment is never refunded twice. The session synchronises ``trip`` with it.
    cancelled = await session.scalar(
        update(Trip)
        .where(Trip.id == trip.id, Trip.cancelled_at.is_(None), Trip.picked_up_at > now)
        .values(cancelled_at=now, cancellation_fee=settlement.fee)
        .returning(Trip.id)
    )
    if cancelled is None:
        raise errors.TripNotCancellable(TripStatus.CANCELLED)
    return trip, settlement
