"""Booking a trip is paid: 402 until the gateway pays exactly what the quote says."""

from __future__ import annotations

import pytest

from services.common.problems import PROBLEM_JSON
from tests.services.rides.conftest import Clock, Places, Rider


async def test_booking_without_payment_answers_402_with_what_to_pay(alice: Rider,
                                                                    places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)

    response = await alice.post("/trips", json={"quote_id": quote["id"]})

    assert response.status_code == 402
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["type"] == "/problems/payment-required"
    assert body["status"] == 402
    assert body["amount"] == quote["price"]["amount"]
    assert body["currency"] == "EUR"
    assert body["reference"] == f"quote:{quote['id']}"
    assert body["description"] == "Standard ride from Gare du Nord to CDG Airport"


async def test_payment_reference_is_stable_for_a_quote(alice: Rider, places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)

    first = await alice.post("/trips", json={"quote_id": quote["id"]})
    second = await alice.post("/trips", json={"quote_id": quote["id"]})

    assert first.json()["reference"] == second.json()["reference"] == quote["payment_reference"]


async def test_booking_with_the_quoted_payment_creates_the_trip(alice: Rider,
                                                               places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg, "comfort")

    response = await alice.book(quote, id="pay_123")

    assert response.status_code == 201, response.text
    trip = response.json()
    assert trip["quote_id"] == quote["id"]
    assert trip["status"] == "requested"
    assert trip["product"] == "comfort"
    assert trip["fare"] == quote["price"]
    assert trip["payment_id"] == "pay_123"
    assert trip["pickup"]["name"] == "Gare du Nord"


@pytest.mark.parametrize("mismatch", [
    {"amount": 1}, {"currency": "USD"}, {"reference": "quote:someone-else"},
])
async def test_booking_with_a_payment_for_something_else_is_refused(
        alice: Rider, places: Places, mismatch: dict[str, object]) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)

    response = await alice.book(quote, **mismatch)

    assert response.status_code == 409
    assert response.json()["expected"] == {"amount": quote["price"]["amount"],
                                           "currency": "EUR",
                                           "reference": quote["payment_reference"]}
    assert (await alice.get("/trips")).json()["items"] == []


async def test_booking_an_expired_quote_answers_410(alice: Rider, places: Places,
                                                    clock: Clock) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)
    clock.advance(minutes=5)

    response = await alice.book(quote)

    assert response.status_code == 410
    assert response.json()["type"] == "/problems/quote-expired"


async def test_booking_a_quote_twice_answers_409(alice: Rider, places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)
    assert (await alice.book(quote)).status_code == 201

    again = await alice.book(quote)

    assert again.status_code == 409
    assert len((await alice.get("/trips")).json()["items"]) == 1


async def test_booking_someone_elses_quote_answers_404(alice: Rider, bob: Rider,
                                                       places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)

    response = await bob.book(quote)

    assert response.status_code == 404


async def test_booking_needs_the_book_scope(alice: Rider, places: Places) -> None:
    quote = await alice.quote(places.gare_du_nord, places.cdg)

    response = await alice.post("/trips", json={"quote_id": quote["id"]}, scopes=["rides:read"])

    assert response.status_code == 403
    assert response.json()["missing_scopes"] == ["rides:book"]
