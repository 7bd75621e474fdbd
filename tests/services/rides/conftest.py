"""Fixtures for the rides service: the app on a controlled clock, riders, and places."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.rides.app import create_app
from services.rides.models import Place
from tests.support.txn import Person, ServiceCaller, Signer

ALICE = Person(str(uuid.uuid4()), "alice", "Alice Martin")
BOB = Person(str(uuid.uuid4()), "bob", "Bob Chen")
ALL_SCOPES = ("rides:read", "rides:book")
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Rider:
    """One person calling the rides service, with all its scopes unless told otherwise."""

    caller: ServiceCaller
    person: Person

    async def request(self, method: str, path: str, *, scopes: Iterable[str] = ALL_SCOPES,
                      **kwargs: Any) -> httpx.Response:
        return await self.caller.request(method, path, self.person, scopes, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def quote(self, pickup: Place, dropoff: Place, product: str = "standard") -> Any:
        response = await self.post("/quotes", json={
            "pickup_place_id": str(pickup.id), "dropoff_place_id": str(dropoff.id),
            "product": product})
        assert response.status_code == 201, response.text
        return response.json()

    async def book(self, quote: dict[str, Any], **payment: Any) -> httpx.Response:
        """Book ``quote``, paid as the gateway would pay it (override fields to mismatch)."""
        return await self.post("/trips", json={"quote_id": quote["id"]},
                               payment=payment_for(quote, **payment))

    async def ride(self, pickup: Place, dropoff: Place, product: str = "standard") -> Any:
        """Quote and book a ride; return the trip."""
        response = await self.book(await self.quote(pickup, dropoff, product))
        assert response.status_code == 201, response.text
        return response.json()


def payment_for(quote: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The payment the gateway authorizes for a quote's 402."""
    return {"id": f"pay_{uuid.uuid4().hex[:12]}", "amount": quote["price"]["amount"],
            "currency": quote["price"]["currency"], "reference": quote["payment_reference"],
            **overrides}


@dataclass(frozen=True)
class Places:
    """A few places in Paris; ``alice_home`` is private to Alice."""

    gare_du_nord: Place
    cdg: Place
    louvre: Place
    cafe_next_door: Place
    alice_home: Place


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
async def app(database_url: str, signer: Signer, clock: Clock) -> AsyncIterator[FastAPI]:
    app = create_app(database_url=database_url, issuer=signer.issuer, keys=signer.keys,
                     clock=clock)
    yield app
    await app.state.engine.dispose()


@pytest.fixture
async def caller(app: FastAPI, signer: Signer) -> AsyncIterator[ServiceCaller]:
    caller = ServiceCaller(app, "rides", signer)
    yield caller
    await caller.aclose()


@pytest.fixture
def alice(caller: ServiceCaller) -> Rider:
    return Rider(caller, ALICE)


@pytest.fixture
def bob(caller: ServiceCaller) -> Rider:
    return Rider(caller, BOB)


def place(name: str, latitude: float, longitude: float, *, kind: str = "landmark",
          owner: Person | None = None) -> Place:
    return Place(id=uuid.uuid4(), name=name, kind=kind, address=f"{name}, Paris",
                 latitude=latitude, longitude=longitude, owner_id=owner.id if owner else None)


@pytest.fixture
async def places(app: FastAPI) -> Places:
    made = Places(
        gare_du_nord=place("Gare du Nord", 48.8809, 2.3553, kind="station"),
        cdg=place("CDG Airport", 49.0097, 2.5479, kind="airport"),
        louvre=place("Musée du Louvre", 48.8606, 2.3376, kind="museum"),
        cafe_next_door=place("Café de la Gare", 48.8815, 2.3560),
        alice_home=place("Home", 48.8566, 2.3522, kind="home", owner=ALICE),
    )
    async with app.state.sessionmaker() as session, session.begin():
        session.add_all(vars(made).values())
    return made


import gc  # noqa: E402


@pytest.fixture(autouse=True)
def _collect_tmp() -> Any:
    yield
    gc.collect()
