"""The rides pages: ask for a price between two places, see it, book it, and the trip history.

Booking is paid, and a person booking here goes through the same 402 hook as an
agent (gateway/payments/hook.py), paying with their own default card and no
mandate: the trip is booked and paid, or the page says in place why not (no card:
add one on the Payments page; the card was declined), or the bank wants the person
to confirm, and the page sends them to the held payment's approval page.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.auth import CurrentPrincipal, check_csrf
from gateway.principal import Principal
from gateway.web.client import PageClient, raise_for_problem
from gateway.web.pages import render
from services.common.problems import Problem

router = APIRouter(prefix="/rides")

SERVICE = "rides"
PRODUCTS = {"standard": "Standard", "comfort": "Comfort", "xl": "XL"}
STATUSES = {"requested": "Requested", "driver_assigned": "Driver on the way",
            "picked_up": "On the way", "completed": "Completed", "cancelled": "Cancelled"}
# Booking answers the service gives that the quote page explains in place.
BOOKING_REFUSALS = frozenset({402, 409, 410})


def _render(request: Request, principal: Principal, template: str, context: dict[str, Any],
            *, status_code: int = 200) -> HTMLResponse:
    context = {"products": PRODUCTS, "statuses": STATUSES, **context}
    return render(request, principal, "rides", template, context, status_code=status_code)


async def _places(client: PageClient) -> list[dict[str, Any]]:
    # The 100 places a page holds are plenty for a select; a search box would take over beyond.
    places: list[dict[str, Any]] = (await client.get(SERVICE, "/places", limit=100))["items"]
    return places


def receipt_url(trip: dict[str, Any]) -> str | None:
    """The receipt of the payment the gateway made for a trip (seeded trips have none)."""
    try:
        return f"/payments/{uuid.UUID(str(trip.get('payment_id')))}"
    except ValueError:
        return None


async def _rides_page(request: Request, principal: Principal, *,
                      form: dict[str, str] | None = None, error: str | None = None,
                      booked: str | None = None, status_code: int = 200) -> HTMLResponse:
    client = PageClient(request, principal)
    places = await _places(client)
    trips = (await client.get(SERVICE, "/trips", limit=20))["items"]
    for trip in trips:
        trip["receipt_url"] = receipt_url(trip)
    return _render(request, principal, "rides/index.html", {
        "places": places, "trips": trips, "form": form or {}, "error": error,
        "booked": booked,
    }, status_code=status_code)


@router.get("")
async def rides_home(request: Request, principal: CurrentPrincipal,
                     booked: str = "") -> HTMLResponse:
    """Show the quote form and the trip history."""
    return await _rides_page(request, principal, booked=booked or None)


@router.post("/quote", response_model=None)
async def ask_quote(
    request: Request,
    principal: CurrentPrincipal,
    pickup_place_id: Annotated[str, Form()] = "",
    dropoff_place_id: Annotated[str, Form()] = "",
    product: Annotated[str, Form()] = "standard",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Ask the rides service for a price, then show the quote."""
    check_csrf(request, principal, csrf_token)
    form = {"pickup_place_id": pickup_place_id, "dropoff_place_id": dropoff_place_id,
            "product": product}
    if pickup_place_id and pickup_place_id == dropoff_place_id:
        return await _rides_page(request, principal, form=form, status_code=422,
                                 error="Pick a dropoff different from the pickup.")
    try:
        quote = await PageClient(request, principal).post(SERVICE, "/quotes", form)
    except Problem as problem:
        if problem.status not in (404, 422):
            raise
        # A place that vanished or a field that doesn't validate: say so on the form.
        return await _rides_page(request, principal, form=form, status_code=problem.status,
                                 error=problem.detail or problem.title)
    return RedirectResponse(f"/rides/quotes/{quote['id']}", status_code=303)


async def _quote_page(request: Request, principal: Principal, quote_id: uuid.UUID, *,
                      refusal: Problem | None = None, status_code: int = 200) -> HTMLResponse:
    quote = await PageClient(request, principal).get(SERVICE, f"/quotes/{quote_id}")
    return _render(request, principal, "rides/quote.html", {
        "quote": quote, "refusal": refusal,
        # A fresh key per rendering of the form: a double click (or a resent form) is the
        # same attempt and pays at most once; a new attempt after a refusal is a new key.
        "attempt": uuid.uuid4(),
    }, status_code=status_code)


@router.get("/quotes/{quote_id:uuid}")
async def show_quote(request: Request, principal: CurrentPrincipal,
                     quote_id: uuid.UUID) -> HTMLResponse:
    """Show a quote: price, distance, duration, and until when it holds."""
    return await _quote_page(request, principal, quote_id)


@router.post("/quotes/{quote_id:uuid}/book", response_model=None)
async def book(request: Request, principal: CurrentPrincipal, quote_id: uuid.UUID,
               csrf_token: Annotated[str, Form()] = "",
               attempt: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """Book the quoted ride and pay with your default card; show why not if it can't be."""
    check_csrf(request, principal, csrf_token)
    try:
        # The gateway's own refusals (the payment hook's 402) raise; the service's return.
        upstream = await PageClient(request, principal).call(
            "POST", SERVICE, "/trips", body={"quote_id": str(quote_id)},
            extra_headers=_idempotency(attempt))
        answer = raise_for_problem(upstream)
    except Problem as problem:
        if problem.status not in BOOKING_REFUSALS:
            raise
        # Rendered in place (not redirected): the refusal is this attempt's answer.
        return await _quote_page(request, principal, quote_id, refusal=problem,
                                 status_code=problem.status)
    if upstream.status == 202:
        # Held for the person: their bank wants them to confirm the payment.
        return RedirectResponse(urlsplit(str(answer["url"])).path, status_code=303)
    return RedirectResponse(f"/rides?booked={answer['id']}#trip-{answer['id']}",
                            status_code=303)


def _idempotency(attempt: str) -> dict[str, str]:
    """The form's attempt id as the call's Idempotency-Key (none if the form sent none)."""
    try:
        return {"idempotency-key": f'"{uuid.UUID(attempt)}"'}
    except ValueError:
        return {}
