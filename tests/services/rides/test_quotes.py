"""Quotes: priced from the places' coordinates, held five minutes, visible to their owner."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.common.problems import PROBLEM_JSON
from services.rides.pricing import TARIFFS, Product
from tests.services.rides.conftest import START, Places, Rider


def _ids(pickup: Any, dropoff: Any) -> dict[str, str]:
    return {"pickup_place_id": str(pickup.id), "dropoff_place_id": str(dropoff.id)}


async def test_quote_prices_the_ride_and_expires_in_five_minutes(alice: Rider,
                                                                places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)

    assert quote["pickup"]["name"] == "Gare du Nord"
    assert quote["dropoff"]["name"] == "CDG Airport"
    assert quote["distance_km"] == pytest.approx(26.1)  # 20.1 km x 1.3 road factor
    assert quote["duration_min"] == 53
    parts = quote["breakdown"]
    assert quote["price"] == {"amount": sum(p["amount"] for p in parts.values()),
                              "currency": "EUR"}
    assert parts["minimum_fare_supplement"]["amount"] == 0
    assert quote["payment_reference"] == f"quote:{quote['id']}"
    assert dt.datetime.fromisoformat(quote["expires_at"]) == START + dt.timedelta(minutes=5)


async def test_a_short_hop_costs_the_minimum_fare(alice: Rider, places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cafe_next_door)

    assert quote["price"]["amount"] == TARIFFS[Product.STANDARD].minimum_fare
    assert quote["breakdown"]["minimum_fare_supplement"]["amount"] > 0


async def test_a_bigger_car_costs_more(alice: Rider, places: Places) -> None:
    prices = [(await alice.quote(places.louvre, places.cdg, p))["price"]["amount"]
              for p in ("standard", "comfort", "xl")]

    assert prices == sorted(prices)
    assert len(set(prices)) == 3


async def test_owner_reads_their_quote(alice: Rider, places: Places) -> None:
    quote = await alice.quote(places.louvre, places.cdg)

    response = await alice.get(f"/quotes/{quote['id']}")

    assert response.status_code == 200
    assert response.json() == quote


async def test_someone_elses_quote_is_not_found(alice: Rider, bob: Rider,
                                                places: Places) -> None:
    quote = await alice.quote(places.louvre, places.cdg)

    response = await bob.get(f"/quotes/{quote['id']}")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


async def test_same_pickup_and_dropoff_is_refused(alice: Rider, places: Places) -> None:
    response = await alice.post("/quotes", json=_ids(places.louvre, places.louvre))

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-error"


async def test_quoting_from_an_unknown_place_is_not_found(alice: Rider, places: Places) -> None:
    body = {**_ids(places.louvre, places.cdg),
            "pickup_place_id": "00000000-0000-4000-8000-000000000000"}

    response = await alice.post("/quotes", json=body)

    assert response.status_code == 404


async def test_quoting_from_someone_elses_home_is_not_found(bob: Rider, places: Places) -> None:
    response = await bob.post("/quotes", json=_ids(places.alice_home, places.cdg))

    assert response.status_code == 404


@pytest.mark.parametrize(("body", "status"), [
    ({"pickup_place_id": "not-a-uuid", "dropoff_place_id": "also-not"}, 422),
    ({"product": "limousine"}, 422),
    ({"surprise": True}, 422),
    ({}, 422),
])
async def test_bad_quote_requests_are_problems(alice: Rider, places: Places,
                                               body: dict[str, Any], status: int) -> None:
    payload = {**_ids(places.louvre, places.cdg), **body} if body else {}

    response = await alice.post("/quotes", json=payload)

    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["errors"]


async def test_a_body_that_is_not_json_is_a_bad_request(alice: Rider, places: Places) -> None:
    response = await alice.post("/quotes", content=b"{nope",
                                headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["type"] == "/problems/bad-request"
