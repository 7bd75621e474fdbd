"""The demo data loads on both backends and tells a believable story."""

from __future__ import annotations

from fastapi import FastAPI

from seeds.people import PEOPLE
from seeds.rides import load_rides
from tests.services.rides.conftest import START, Rider
from tests.support.txn import Person, ServiceCaller


def _person(username: str) -> Person:
    seed = PEOPLE[username]
    return Person(str(seed.id), seed.username, seed.display_name)


async def _seed(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session, session.begin():
        await load_rides(session, START)


async def test_alice_has_weeks_of_trips_one_of_them_cancelled(app: FastAPI,
                                                              caller: ServiceCaller) -> None:
    await _seed(app)
    alice = Rider(caller, _person("alice"))

    trips = (await alice.get("/trips")).json()["items"]

    statuses = [t["status"] for t in trips]
    assert statuses.count("completed") >= 3
    assert statuses.count("cancelled") == 1
    assert [t["booked_at"] for t in trips] == sorted((t["booked_at"] for t in trips),
                                                     reverse=True)
    assert any(t["dropoff"]["name"] == "CDG Airport" for t in trips)


async def test_bob_sees_his_own_trips_and_home_only(app: FastAPI, caller: ServiceCaller) -> None:
    await _seed(app)
    bob = Rider(caller, _person("bob"))

    trips = (await bob.get("/trips")).json()["items"]
    homes = (await bob.get("/places", params={"q": "home"})).json()["items"]

    assert trips
    assert {t["status"] for t in trips} == {"completed"}
    assert [h["address"] for h in homes] == ["41 Rue de la Roquette, 75011 Paris"]


async def test_loading_the_seed_twice_changes_nothing(app: FastAPI,
                                                      caller: ServiceCaller) -> None:
    await _seed(app)
    alice = Rider(caller, _person("alice"))
    before = (await alice.get("/trips")).json()

    await _seed(app)

    assert (await alice.get("/trips")).json() == before


async def test_a_seeded_place_can_be_quoted(app: FastAPI, caller: ServiceCaller) -> None:
    await _seed(app)
    alice = Rider(caller, _person("alice"))
    stations = (await alice.get("/places", params={"q": "gare du nord"})).json()["items"]
    airports = (await alice.get("/places", params={"q": "cdg"})).json()["items"]

    response = await alice.post("/quotes", json={"pickup_place_id": stations[0]["id"],
                                                 "dropoff_place_id": airports[0]["id"]})

    assert response.status_code == 201
    assert response.json()["price"]["currency"] == "EUR"
