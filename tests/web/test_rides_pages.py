"""The rides pages: a quote shows its price; booking without payment says so plainly."""

from __future__ import annotations

import re

import httpx

from seeds.rides import seed_id
from tests.web.conftest import signed_in

CDG = str(seed_id("place:cdg"))
LOUVRE = str(seed_id("place:louvre"))


async def ask_quote(client: httpx.AsyncClient, csrf: str, product: str = "standard") -> str:
    """Ask for a price from CDG to the Louvre; return the quote page's path."""
    response = await client.post("/rides/quote", data={
        "pickup_place_id": CDG, "dropoff_place_id": LOUVRE, "product": product,
        "csrf_token": csrf})
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert re.fullmatch(r"/rides/quotes/[0-9a-f-]{36}", location)
    return location


async def test_rides_page_offers_places_and_trip_history(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")

    page = await client.get("/rides")

    assert page.status_code == 200
    assert f'<option value="{CDG}"' in page.text
    assert "CDG Airport" in page.text
    assert 'data-testid="trip-' in page.text


async def test_quote_shows_price_distance_duration_and_expiry(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")

    page = await client.get(await ask_quote(client, csrf))

    assert page.status_code == 200
    assert re.search(r'data-testid="price">\d+\.\d\d EUR<', page.text)
    assert " km</dd>" in page.text
    assert " min</dd>" in page.text
    assert "Price holds until" in page.text


async def test_quote_without_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")

    response = await client.post("/rides/quote", data={
        "pickup_place_id": CDG, "dropoff_place_id": LOUVRE})

    assert response.status_code == 403


async def test_same_pickup_and_dropoff_is_explained_on_the_form(
        client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")

    page = await client.post("/rides/quote", data={
        "pickup_place_id": CDG, "dropoff_place_id": CDG, "csrf_token": csrf})

    assert page.status_code == 422
    assert "different from the pickup" in page.text


async def test_booking_shows_payment_required_and_books_nothing(
        client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    quote_page = await ask_quote(client, csrf)
    trips_before = (await client.get("/rides")).text.count('data-testid="trip-')
    price = re.search(r'data-testid="price">([^<]+)<', (await client.get(quote_page)).text)
    assert price

    page = await client.post(f"{quote_page}/book", data={"csrf_token": csrf})

    assert page.status_code == 402
    assert f"Payment required: {price.group(1)}" in page.text
    assert "payment methods arrive with the Payments page" in page.text
    assert (await client.get("/rides")).text.count('data-testid="trip-') == trips_before


async def test_someone_elses_quote_is_not_found(client: httpx.AsyncClient,
                                                other_client: httpx.AsyncClient) -> None:
    bob_csrf = await signed_in(other_client, "bob")
    quote_page = await ask_quote(other_client, bob_csrf)
    await signed_in(client, "alice")

    page = await client.get(quote_page)

    assert page.status_code == 404
    assert 'data-problem-type="not-found"' in page.text
