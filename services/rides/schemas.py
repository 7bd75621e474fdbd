"""What the rides API reads and answers. Money is integer minor units plus a currency."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.rides.lifecycle import DRIVERS, Settlement, TripStatus, status_at
from services.rides.models import Place, Quote, Trip
from services.rides.pricing import Product

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; "
                                                "null on the last page.")


class Money(BaseModel):
    amount: int = Field(description="In minor units (cents).", examples=[1890])
    currency: str = Field(description="ISO 4217 code.", examples=["EUR"])


class Refund(Money):
    """Money a cancellation gives back, and the payment it goes back to."""

    payment_id: str = Field(description="The payment the gateway made for the trip.")


class PlaceOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str = Field(examples=["airport", "station", "museum", "office", "home"])
    address: str
    latitude: float
    longitude: float

    @classmethod
    def of(cls, place: Place) -> PlaceOut:
        return cls(id=place.id, name=place.name, kind=place.kind, address=place.address,
                   latitude=place.latitude, longitude=place.longitude)


class PlacePage(Page[PlaceOut]):
    pass


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pickup_place_id: uuid.UUID
    dropoff_place_id: uuid.UUID
    product: Product = Product.STANDARD

    @model_validator(mode="after")
    def _distinct_ends(self) -> QuoteRequest:
        if self.pickup_place_id == self.dropoff_place_id:
            raise ValueError("pickup and dropoff must be different places")
        return self


class PriceBreakdown(BaseModel):
    base_fare: Money
    distance_fare: Money
    time_fare: Money
    minimum_fare_supplement: Money = Field(description="Added when the metered price is "
                                                       "below the product's minimum fare.")


class QuoteOut(BaseModel):
    id: uuid.UUID
    pickup: PlaceOut
    dropoff: PlaceOut
    product: Product
    distance_km: float
    duration_min: int
    price: Money
    breakdown: PriceBreakdown
    payment_reference: str = Field(description="The reference a payment for this quote uses.")
    created_at: dt.datetime
    expires_at: dt.datetime

    @classmethod
    def of(cls, quote: Quote) -> QuoteOut:
        def money(amount: int) -> Money:
            return Money(amount=amount, currency=quote.currency)

        metered = quote.base_fare + quote.distance_fare + quote.time_fare
        return cls(
            id=quote.id, pickup=PlaceOut.of(quote.pickup), dropoff=PlaceOut.of(quote.dropoff),
            product=Product(quote.product), distance_km=round(quote.distance_m / 1000, 1),
            duration_min=quote.duration_min, price=money(quote.amount),
            breakdown=PriceBreakdown(
                base_fare=money(quote.base_fare), distance_fare=money(quote.distance_fare),
                time_fare=money(quote.time_fare),
                minimum_fare_supplement=money(quote.amount - metered),
            ),
            payment_reference=quote.reference, created_at=quote.created_at,
            expires_at=quote.expires_at,
        )


class TripRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quote_id: uuid.UUID


class DriverOut(BaseModel):
    name: str
    car: str
    plate: str
    rating: float


class CancellationOut(BaseModel):
    cancelled_at: dt.datetime
    fee: Money
    refund: Money


class TripOut(BaseModel):
    id: uuid.UUID
    quote_id: uuid.UUID
    status: TripStatus
    product: Product
    pickup: PlaceOut
    dropoff: PlaceOut
    distance_km: float
    duration_min: int
    fare: Money
    payment_id: str
    driver: DriverOut | None = Field(description="Known once a driver is assigned.")
    booked_at: dt.datetime
    driver_assigned_at: dt.datetime | None
    picked_up_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancellation: CancellationOut | None

    @classmethod
    def at(cls, trip: Trip, now: dt.datetime) -> TripOut:
        """Show ``trip`` as it stands at ``now``: steps in the future are not shown yet."""
        status = status_at(trip.plan, trip.cancelled_at, now)
        # A cancelled trip stopped where it was: show only the steps reached before.
        until = trip.cancelled_at or now

        def reached(moment: dt.datetime) -> dt.datetime | None:
            return moment if moment <= until else None

        driver = DRIVERS[trip.driver_id]
        cancellation = None
        if trip.cancelled_at is not None:
            fee = trip.cancellation_fee or 0
            cancellation = CancellationOut(
                cancelled_at=trip.cancelled_at,
                fee=Money(amount=fee, currency=trip.currency),
                refund=Money(amount=trip.amount_paid - fee, currency=trip.currency),
            )
        quote = trip.quote
        return cls(
            id=trip.id, quote_id=trip.quote_id, status=status, product=Product(quote.product),
            pickup=PlaceOut.of(quote.pickup), dropoff=PlaceOut.of(quote.dropoff),
            distance_km=round(quote.distance_m / 1000, 1), duration_min=quote.duration_min,
            fare=Money(amount=trip.amount_paid, currency=trip.currency),
            payment_id=trip.payment_id,
            driver=DriverOut(name=driver.name, car=driver.car, plate=driver.plate,
                             rating=driver.rating)
            if reached(trip.driver_assigned_at) else None,
            booked_at=trip.booked_at,
            driver_assigned_at=reached(trip.driver_assigned_at),
            picked_up_at=reached(trip.picked_up_at),
            completed_at=reached(trip.completes_at),
            cancellation=cancellation,
        )


class TripPage(Page[TripOut]):
    pass


class CancelledTrip(BaseModel):
    trip: TripOut
    cancellation_fee: Money
    refund: Refund = Field(description="What goes back to the payment `trip.payment_id`; "
                                       "the gateway's refund hook pays it back.")

    @classmethod
    def of(cls, trip: Trip, settlement: Settlement, now: dt.datetime) -> CancelledTrip:
        return cls(
            trip=TripOut.at(trip, now),
            cancellation_fee=Money(amount=settlement.fee, currency=trip.currency),
            refund=Refund(amount=settlement.refund, currency=trip.currency,
                          payment_id=trip.payment_id),
        )


class PlaceCursor(BaseModel):
    """Sort key of the places list: by name, then id."""

    name: str
    id: uuid.UUID


class TripCursor(BaseModel):
    """Sort key of the trip history: newest booking first, then id."""

    booked_at: AwareDatetime
    id: uuid.UUID
