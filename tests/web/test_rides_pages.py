"""The rides pages: a quote shows its price; booking pays with the person's default card.

A person booking on the web goes through the gateway's 402 hook with their own
card (the demo people alice, bob and carol have a seeded Visa; dave has none).
"""

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


async def trip_count(client: httpx.AsyncClient) -> int:
    return (await client.get("/rides")).text.count('data-testid="trip-')


async def book(client: httpx.AsyncClient, csrf: str, quote_page: str) -> httpx.Response:
    """Press "Book" on the quote page (its form: the CSRF token and this attempt's id)."""
    form = (await client.get(quote_page)).text
    attempt = re.search(r'name="attempt" value="([^"]+)"', form)
    assert attempt
    return await client.post(f"{quote_page}/book",
                             data={"csrf_token": csrf, "attempt": attempt.group(1)})


async def save_card(client: httpx.AsyncClient, csrf: str, number: str) -> None:
    """Add a test card on the Payments page and make it the default."""
    saved = await client.post("/payments/cards", data={
        "number": number, "exp_month": "12", "exp_year": "2031", "csrf_token": csrf})
    assert saved.status_code == 303, saved.text
    page = (await client.get("/payments")).text
    new = re.search(rf'ending in {number[-4:]}</h3>.*?action="/payments/cards/([0-9a-f-]{{36}})'
                    r'/default"', page, re.S)
    assert new
    made = await client.post(f"/payments/cards/{new.group(1)}/default",
                             data={"csrf_token": csrf})
    assert made.status_code == 303


async def test_booking_pays_with_the_default_card_and_the_trip_shows_its_receipt(
        client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    quote_page = await ask_quote(client, csrf)
    price = re.search(r'data-testid="price">([^<]+)<', (await client.get(quote_page)).text)
    assert price

    booked = await book(client, csrf, quote_page)

    assert booked.status_code == 303
    found = re.fullmatch(r"/rides\?booked=([0-9a-f-]{36})#trip-\1", booked.headers["location"])
    assert found, booked.headers["location"]
    page = (await client.get(booked.headers["location"])).text
    assert 'data-testid="booked"' in page
    trip = re.search(rf'data-testid="trip-{found.group(1)}">(.*?)</article>', page, re.S)
    assert trip
    assert f"Paid {price.group(1)}" in trip.group(1)
    receipt = re.search(r'href="(/payments/[0-9a-f-]{36})">Receipt<', trip.group(1))
    assert receipt
    shown = (await client.get(receipt.group(1))).text
    assert "paid by <strong>you</strong>" in shown
    assert re.search(rf'data-testid="receipt-amount">{price.group(1)}<', shown)


async def test_a_resent_booking_form_books_and_pays_once(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    quote_page = await ask_quote(client, csrf)
    form = (await client.get(quote_page)).text
    attempt = re.search(r'name="attempt" value="([^"]+)"', form)
    assert attempt
    data = {"csrf_token": csrf, "attempt": attempt.group(1)}

    first = await client.post(f"{quote_page}/book", data=data)
    again = await client.post(f"{quote_page}/book", data=data)  # a double click

    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    ledger = (await client.get("/payments")).text
    assert ledger.count('<tr data-testid="payment-') == 1


async def test_booking_without_a_card_sends_the_person_to_the_payments_page(
        client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "dave")
    quote_page = await ask_quote(client, csrf)
    trips_before = await trip_count(client)

    page = await book(client, csrf, quote_page)

    assert page.status_code == 402
    assert 'data-testid="refusal"' in page.text
    assert '<a href="/payments#add-card">Add a card on the Payments page</a>' in page.text
    assert "Nothing was booked or charged" in page.text
    assert await trip_count(client) == trips_before


async def test_a_declined_card_is_said_so_and_nothing_is_booked(
        client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    await save_card(client, csrf, "4000000000000341")
    quote_page = await ask_quote(client, csrf)
    trips_before = await trip_count(client)

    page = await book(client, csrf, quote_page)

    assert page.status_code == 402
    assert "Your card was declined." in page.text
    assert await trip_count(client) == trips_before
    assert "Declined by the card" in (await client.get("/payments")).text


async def test_a_card_that_needs_authentication_goes_to_the_approval_page(
        client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    await save_card(client, csrf, "4000002760003184")
    quote_page = await ask_quote(client, csrf)
    trips_before = await trip_count(client)

    held = await book(client, csrf, quote_page)

    assert held.status_code == 303
    assert re.fullmatch(r"/approvals/[0-9a-f-]{36}", held.headers["location"])
    page = (await client.get(held.headers["location"])).text
    assert "Your bank asks you to confirm this payment" in page
    approved = await client.post(f"{held.headers['location']}/approve",
                                 data={"csrf_token": csrf})
    assert approved.status_code == 303
    assert "Approved and done" in (await client.get(approved.headers["location"])).text
    assert await trip_count(client) == trips_before + 1


async def test_someone_elses_quote_is_not_found(client: httpx.AsyncClient,
                                                other_client: httpx.AsyncClient) -> None:
    bob_csrf = await signed_in(other_client, "bob")
    quote_page = await ask_quote(other_client, bob_csrf)
    await signed_in(client, "alice")

    page = await client.get(quote_page)

    assert page.status_code == 404
    assert 'data-problem-type="not-found"' in page.text
