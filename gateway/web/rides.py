"""The rides pages: ask for a price between two places, see it, and the trip history.

Booking is paid: the rides service answers 402 with the amount until the gateway
pays for it. Until the payments feature lands the page says so plainly, showing
the service's own 402 answer, instead of pretending a booking went through.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.auth import CurrentPrincipal, check_csrf
from gateway.principal import Principal
from gateway.web.client import PageClient
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


async def _rides_page(request: Request, principal: Principal, *,
                      form: dict[str, str] | None = None, error: str | None = None,
                      status_code: int = 200) -> HTMLResponse:
    client = PageClient(request, principal)
    places = await _places(client)
    trips = (await client.get(SERVICE, "/trips", limit=20))["items"]
    return _render(request, principal, "rides/index.html", {
        "places": places, "trips": trips, "form": form or {}, "error": error,
    }, status_code=status_code)


@router.get("")
async def rides_home(request: Request, principal: CurrentPrincipal) -> HTMLResponse:
    """Show the quote form and the trip history."""
    return await _rides_page(request, principal)


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
    return _render(request, principal, "rides/quote.html",
                   {"quote": quote, "refusal": refusal}, status_code=status_code)


@router.get("/quotes/{quote_id:uuid}")
async def show_quote(request: Request, principal: CurrentPrincipal,
                     quote_id: uuid.UUID) -> HTMLResponse:
    """Show a quote: price, distance, duration, and until when it holds."""
    return await _quote_page(request, principal, quote_id)


@router.post("/quotes/{quote_id:uuid}/book", response_model=None)
async def book(request: Request, principal: CurrentPrincipal, quote_id: uuid.UUID,
               csrf_token: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    """Try to book the quoted ride; show why not if the service refuses (e.g. 402)."""
    check_csrf(request, principal, csrf_token)
    try:
        await PageClient(request, principal).post(SERVICE, "/trips", {"quote_id": str(quote_id)})
    except Problem as problem:
        if problem.status not in BOOKING_REFUSALS:
            raise
        # Rendered in place (not redirected): the refusal is this attempt's answer.
        return await _quote_page(request, principal, quote_id, refusal=problem,
                                 status_code=problem.status)
    return RedirectResponse("/rides#trips", status_code=303)
