"""The rides API. Paths are relative to the service root (the gateway serves /api/rides/...).

Each operation declares its scopes (``RidesRead``/``RidesBook``), its side effects
(``x-effects``) and whether it may ask for money (``x-payment``); the gateway reads
all three from this service's OpenAPI. Writes are kept only when live: a dry-run
quotes, books (without payment) or cancels as if real, answers with the result and
is then rolled back.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from services.common.deps import SessionDep
from services.common.effects import keep_only_if_live
from services.common.openapi import effects, problem_responses
from services.rides import service
from services.rides.auth import RidesBook, RidesRead
from services.rides.clock import Now
from services.rides.lifecycle import TripStatus
from services.rides.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from services.rides.schemas import (
    CancelledTrip,
    PlaceOut,
    PlacePage,
    QuoteOut,
    QuoteRequest,
    TripOut,
    TripPage,
    TripRequest,
)

router = APIRouter()


@router.get("/places", operation_id="search_places", response_model=PlacePage,
            responses=problem_responses(400, 403), openapi_extra=effects(), tags=["places"])
async def search_places(ctx: RidesRead, session: SessionDep,
                        q: str | None = Query(None, max_length=100,
                                              description="Part of the place's name."),
                        cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE) -> PlacePage:
    """Find places to be picked up at or dropped off at, by name."""
    places, next_cursor = await service.search_places(session, ctx.sub, q=q, cursor=cursor,
                                                      limit=limit)
    return PlacePage(items=[PlaceOut.of(p) for p in places], next_cursor=next_cursor)


@router.get("/places/{place_id}", operation_id="get_place", response_model=PlaceOut,
            responses=problem_responses(403, 404), openapi_extra=effects(), tags=["places"])
async def get_place(place_id: uuid.UUID, ctx: RidesRead, session: SessionDep) -> PlaceOut:
    """Show one place."""
    return PlaceOut.of(await service.get_place(session, ctx.sub, place_id))


@router.post("/quotes", operation_id="create_quote", status_code=201, response_model=QuoteOut,
             responses=problem_responses(400, 403, 404),
             openapi_extra=effects(writes=["quote"]), tags=["quotes"])
async def create_quote(body: QuoteRequest, ctx: RidesRead, session: SessionDep,
                       now: Now) -> QuoteOut:
    """Price a ride between two places; the price holds for five minutes."""
    quote = QuoteOut.of(await service.create_quote(session, ctx.sub, body, now))
    await keep_only_if_live(session, ctx)
    return quote


@router.get("/quotes/{quote_id}", operation_id="get_quote", response_model=QuoteOut,
            responses=problem_responses(403, 404), openapi_extra=effects(), tags=["quotes"])
async def get_quote(quote_id: uuid.UUID, ctx: RidesRead, session: SessionDep) -> QuoteOut:
    """Show one of your quotes."""
    return QuoteOut.of(await service.get_quote(session, ctx.sub, quote_id))


@router.post("/trips", operation_id="book_trip", status_code=201, response_model=TripOut,
             responses=problem_responses(400, 402, 403, 404, 409, 410),
             openapi_extra=effects(writes=["trip"], payment=True), tags=["trips"])
async def book_trip(body: TripRequest, ctx: RidesBook, session: SessionDep,
                    now: Now) -> TripOut:
    """Book the ride a quote priced; answers 402 until the gateway has paid for it."""
    trip = await service.book_trip(session, ctx.sub, body.quote_id, ctx.payment, now,
                                   dry_run=ctx.effects == "dry-run")
    booked = TripOut.at(trip, now)
    await keep_only_if_live(session, ctx)
    return booked


@router.get("/trips", operation_id="list_trips", response_model=TripPage,
            responses=problem_responses(400, 403), openapi_extra=effects(), tags=["trips"])
async def list_trips(ctx: RidesRead, session: SessionDep, now: Now,
                     status: TripStatus | None = None, cursor: Cursor = None,
                     limit: Limit = DEFAULT_PAGE_SIZE) -> TripPage:
    """List your trips, newest first, optionally only those with one status."""
    trips, next_cursor = await service.list_trips(session, ctx.sub, now, status=status,
                                                  cursor=cursor, limit=limit)
    return TripPage(items=[TripOut.at(t, now) for t in trips], next_cursor=next_cursor)


@router.get("/trips/{trip_id}", operation_id="get_trip", response_model=TripOut,
            responses=problem_responses(403, 404), openapi_extra=effects(), tags=["trips"])
async def get_trip(trip_id: uuid.UUID, ctx: RidesRead, session: SessionDep,
                   now: Now) -> TripOut:
    """Show one of your trips as it stands now."""
    return TripOut.at(await service.get_trip(session, ctx.sub, trip_id), now)


@router.post("/trips/{trip_id}/cancel", operation_id="cancel_trip", response_model=CancelledTrip,
             responses=problem_responses(403, 404, 409),
             openapi_extra=effects(writes=["trip", "refund"], refunds=True), tags=["trips"])
async def cancel_trip(trip_id: uuid.UUID, ctx: RidesBook, session: SessionDep,
                      now: Now) -> CancelledTrip:
    """Cancel a trip before pickup: free at first, then a fee capped at the fare."""
    trip, settlement = await service.cancel_trip(session, ctx.sub, trip_id, now)
    cancelled = CancelledTrip.of(trip, settlement, now)
    await keep_only_if_live(session, ctx)
    return cancelled
