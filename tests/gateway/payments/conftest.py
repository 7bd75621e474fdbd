"""Callers for the payment tests: alice with a saved card, her agents with mandates, quotes.

Every call goes over HTTP (the ASGI app) with a bearer token, as an agent would make
it; the simulated processor stands behind the gateway, with its own state in the
test's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.payments import methods
from gateway.payments.models import Payment
from gateway.payments.wiring import Payments
from seeds.people import PEOPLE
from services.common.db import utcnow
from services.rides.models import Place, Trip
from services.rides.pricing import Product
from services.rides.service import new_quote
from tests.support.agents import bearer, make_agent, make_grant, make_sub_grant, mint_access_token

ALICE = PEOPLE["alice"].id
PAY_SCOPE = "rides:read rides:book payments:spend"
VISA = "4242424242424242"
DECLINES_CHARGES = "4000000000000341"
NEEDS_AUTHENTICATION = "4000002760003184"


def app_of(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


def payments_of(client: httpx.AsyncClient) -> Payments:
    payments: Payments = app_of(client).state.payments
    return payments


def mandate(*, max_per_payment: int = 10_000, budget: int | None = 50_000,
            period: str = "week", approval_threshold: int | None = None,
            services: tuple[str, ...] = ("rides",), currency: str = "EUR",
            **more: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": "payment_mandate", "currency": currency,
                              "max_per_payment": max_per_payment, "services": list(services),
                              **more}
    if budget is not None:
        detail["budget"] = {"amount": budget, "period": period}
    if approval_threshold is not None:
        detail["approval_threshold"] = approval_threshold
    return detail


async def remove_cards(client: httpx.AsyncClient, user_id: uuid.UUID = ALICE) -> None:
    """Take the person's saved cards away (the demo people have a seeded Visa)."""
    payments = payments_of(client)
    for method in await methods.list_methods(payments.sessionmaker, user_id):
        await methods.remove(payments.sessionmaker, user_id, method.id)


async def save_card(client: httpx.AsyncClient, number: str = VISA,
                    user_id: uuid.UUID = ALICE) -> None:
    """Make ``number`` the person's only card, so the test knows what it pays with."""
    await remove_cards(client, user_id)
    payments = payments_of(client)
    await methods.finish_setup(payments.sessionmaker, payments.processor, user_id,
                               card_number=number, exp_month=12, exp_year=2030)


@dataclass(frozen=True)
class AgentCaller:
    headers: dict[str, str]
    grant_id: uuid.UUID
    agent_id: uuid.UUID


MandatedAgent = Callable[..., Awaitable[AgentCaller]]


@pytest.fixture
def mandated(client: httpx.AsyncClient) -> MandatedAgent:
    """A new agent of alice's with ``scope`` and (optionally) a mandate on its grant."""
    async def make(detail: dict[str, Any] | None = None, *, scope: str = PAY_SCOPE,
                   name: str = "Trip Planner", parent: AgentCaller | None = None,
                   ) -> AgentCaller:
        app = app_of(client)
        async with app.state.write_sessionmaker() as db:
            agent = await make_agent(db, name)
            agent.scope = PAY_SCOPE
            if parent is None:
                grant = await make_grant(db, ALICE, agent, scope=scope)
            else:
                from gateway.identity.models import Grant

                parent_grant = await db.get(Grant, parent.grant_id)
                assert parent_grant is not None
                grant = await make_sub_grant(db, parent_grant, agent, scope=scope)
            grant.authorization_details = [detail] if detail else []
            await db.commit()
        return AgentCaller(bearer(await mint_access_token(app, grant)), grant.id, agent.id)
    return make


QuoteFor = Callable[..., Awaitable[tuple[str, int]]]


@pytest.fixture
def quote(client: httpx.AsyncClient) -> QuoteFor:
    """A fresh bookable quote of alice's: (id, amount in cents)."""
    async def make(product: Product = Product.STANDARD, nth: int = 0) -> tuple[str, int]:
        app = app_of(client)
        # Reads, then writes: on SQLite it must begin IMMEDIATE (or fail at once when the
        # app's reconciler or activity writer committed in between).
        async with app.state.write_sessionmaker() as db, db.begin():
            places = (await db.scalars(sa.select(Place).where(Place.owner_id.is_(None))
                                       .order_by(Place.name).limit(12))).all()
            pickup, dropoff = places[nth % len(places)], places[(nth + 1) % len(places)]
            made = new_quote(str(ALICE), pickup, dropoff, product, utcnow())
            db.add(made)
        return str(made.id), made.amount
    return make


def book(quote_id: str) -> dict[str, Any]:
    return {"json": {"quote_id": quote_id}}


def key() -> dict[str, str]:
    return {"Idempotency-Key": f'"{uuid.uuid4()}"'}


async def ledger(client: httpx.AsyncClient) -> list[Payment]:
    """Every payment in the ledger, oldest first."""
    async with app_of(client).state.sessionmaker() as db:
        return list((await db.scalars(sa.select(Payment).order_by(Payment.created_at))).all())


async def trips(client: httpx.AsyncClient, quote_id: str) -> list[Trip]:
    """The trips booked from this quote (the demo data has trips of its own)."""
    async with app_of(client).state.sessionmaker() as db:
        return list((await db.scalars(
            sa.select(Trip).where(Trip.quote_id == uuid.UUID(quote_id)))).all())
