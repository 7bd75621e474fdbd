"""Demo data for the rides service: places across Paris and a few weeks of trips.

Ids derive from readable keys (uuid5), so every load of the seed agrees with itself
and with the demo script. Prices come from the service's own tariff, so a seeded
trip costs exactly what booking it today would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from seeds.people import PEOPLE
from services.common.txn_token import Payment
from services.rides.lifecycle import cancellation_settlement
from services.rides.models import Place
from services.rides.pricing import Product
from services.rides.service import new_quote, new_trip

_NAMESPACE = uuid.UUID("2d9a7c41-58e3-4f0b-b6a2-8c1e5d3f9a70")


def seed_id(key: str) -> uuid.UUID:
    """Return the fixed id of a seeded row."""
    return uuid.uuid5(_NAMESPACE, key)


@dataclass(frozen=True)
class SeedPlace:
    key: str
    name: str
    kind: str
    address: str
    latitude: float
    longitude: float
    owner: str | None = None  # a username: the place is private to that person


PLACES: tuple[SeedPlace, ...] = (
    SeedPlace("cdg", "CDG Airport", "airport",
              "Aéroport Paris-Charles de Gaulle, 95700 Roissy-en-France", 49.0097, 2.5479),
    SeedPlace("orly", "Orly Airport", "airport",
              "Aéroport de Paris-Orly, 94390 Orly", 48.7262, 2.3652),
    SeedPlace("gare-du-nord", "Gare du Nord", "station",
              "18 Rue de Dunkerque, 75010 Paris", 48.8809, 2.3553),
    SeedPlace("gare-de-lyon", "Gare de Lyon", "station",
              "Place Louis-Armand, 75012 Paris", 48.8443, 2.3744),
    SeedPlace("montparnasse", "Gare Montparnasse", "station",
              "17 Boulevard de Vaugirard, 75015 Paris", 48.8412, 2.3209),
    SeedPlace("louvre", "Musée du Louvre", "museum",
              "Rue de Rivoli, 75001 Paris", 48.8606, 2.3376),
    SeedPlace("orsay", "Musée d'Orsay", "museum",
              "1 Rue de la Légion d'Honneur, 75007 Paris", 48.8600, 2.3266),
    SeedPlace("pompidou", "Centre Pompidou", "museum",
              "Place Georges-Pompidou, 75004 Paris", 48.8607, 2.3522),
    SeedPlace("eiffel", "Tour Eiffel", "landmark",
              "Champ de Mars, 5 Avenue Anatole France, 75007 Paris", 48.8584, 2.2945),
    SeedPlace("station-f", "Station F", "office",
              "5 Parvis Alan Turing, 75013 Paris", 48.8342, 2.3708),
    SeedPlace("alice-home", "Home", "home",
              "12 Rue des Martyrs, 75009 Paris", 48.8790, 2.3400, owner="alice"),
    SeedPlace("bob-home", "Home", "home",
              "41 Rue de la Roquette, 75011 Paris", 48.8556, 2.3744, owner="bob"),
)


@dataclass(frozen=True)
class SeedRide:
    key: str
    rider: str
    pickup: str
    dropoff: str
    product: Product
    days_ago: int
    at: dt.time
    cancelled_after: dt.timedelta | None = None  # None: the ride was completed


RIDES: tuple[SeedRide, ...] = (
    SeedRide("alice-1", "alice", "alice-home", "cdg", Product.STANDARD, 24, dt.time(6, 40)),
    SeedRide("alice-2", "alice", "orly", "alice-home", Product.COMFORT, 19, dt.time(21, 15)),
    SeedRide("alice-3", "alice", "alice-home", "station-f", Product.STANDARD, 11,
             dt.time(8, 50)),
    SeedRide("alice-4", "alice", "station-f", "louvre", Product.STANDARD, 6, dt.time(18, 5),
             cancelled_after=dt.timedelta(minutes=1)),
    SeedRide("alice-5", "alice", "gare-de-lyon", "alice-home", Product.XL, 3, dt.time(19, 30)),
    SeedRide("bob-1", "bob", "bob-home", "gare-du-nord", Product.STANDARD, 13, dt.time(7, 45)),
    SeedRide("bob-2", "bob", "gare-du-nord", "pompidou", Product.COMFORT, 4, dt.time(14, 20)),
)


def _place(seed: SeedPlace) -> Place:
    owner = str(PEOPLE[seed.owner].id) if seed.owner else None
    return Place(id=seed_id(f"place:{seed.key}"), name=seed.name, kind=seed.kind,
                 address=seed.address, latitude=seed.latitude, longitude=seed.longitude,
                 owner_id=owner)


async def load_rides(session: AsyncSession, now: dt.datetime) -> None:
    """Add the rides demo data, with trips dated relative to ``now``; flushes, never commits.

    Loading twice is harmless: if the places are there, the seed already ran.
    """
    if await session.get(Place, seed_id(f"place:{PLACES[0].key}")) is not None:
        return
    places = {seed.key: _place(seed) for seed in PLACES}
    session.add_all(places.values())
    for ride in RIDES:
        day = (now - dt.timedelta(days=ride.days_ago)).date()
        booked_at = dt.datetime.combine(day, ride.at, tzinfo=dt.UTC)
        quote = new_quote(str(PEOPLE[ride.rider].id), places[ride.pickup],
                          places[ride.dropoff], ride.product,
                          booked_at - dt.timedelta(minutes=1),
                          quote_id=seed_id(f"quote:{ride.key}"))
        payment = Payment(id=f"sim_seed_{ride.key}", amount=quote.amount,
                          currency=quote.currency, reference=quote.reference)
        trip = new_trip(quote, payment, booked_at, trip_id=seed_id(f"trip:{ride.key}"))
        if ride.cancelled_after is not None:
            trip.cancelled_at = booked_at + ride.cancelled_after
            trip.cancellation_fee = cancellation_settlement(
                trip.plan, trip.amount_paid, trip.cancelled_at).fee
        session.add_all([quote, trip])
    await session.flush()
