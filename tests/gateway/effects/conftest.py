"""Callers for the effects tests: alice's agents and alice herself, all with bearer tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from seeds.chat import channel_id
from seeds.people import PEOPLE
from services.common.db import utcnow
from services.common.txn_token import Payment
from services.rides.models import Place
from services.rides.pricing import Product
from services.rides.service import new_quote, new_trip
from tests.support.agents import bearer, make_agent, make_grant, mint_access_token, personal_token

ALICE = PEOPLE["alice"].id
DESIGN = str(channel_id("design"))
GENERAL = str(channel_id("general"))
RANDOM = str(channel_id("random"))
EVERY_SCOPE = "chat:read chat:write chat:mark_read rides:read rides:book"

TokenFor = Callable[[str], Awaitable[dict[str, str]]]


def app_of(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def agent(client: httpx.AsyncClient) -> TokenFor:
    """Headers for a new agent of alice's holding ``scope`` (no channel constraint)."""
    async def token_for(scope: str) -> dict[str, str]:
        app = app_of(client)
        async with app.state.sessionmaker() as db:
            assistant = await make_agent(db, "Assistant")
            assistant.scope = EVERY_SCOPE
            grant = await make_grant(db, ALICE, assistant, scope=scope)
            await db.commit()
        return bearer(await mint_access_token(app, grant))
    return token_for


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers for alice herself: her personal API token (a person, no agent)."""
    return await personal_token(app_of(client), ALICE, scope=EVERY_SCOPE,
                                label="effects tests")


@dataclass(frozen=True)
class Rides:
    """alice's fresh quote (bookable) and upcoming trip (cancellable)."""

    quote_id: uuid.UUID
    trip_id: uuid.UUID


@pytest.fixture
async def rides(client: httpx.AsyncClient) -> Rides:
    app = app_of(client)
    now = utcnow()
    async with app.state.sessionmaker() as db:
        pickup, dropoff = (await db.scalars(
            sa.select(Place).where(Place.owner_id.is_(None)).order_by(Place.name).limit(2))).all()
        quote = new_quote(str(ALICE), pickup, dropoff, Product.STANDARD, now)
        booked = new_quote(str(ALICE), dropoff, pickup, Product.STANDARD, now)
        trip = new_trip(booked, Payment(id="sim_test", amount=booked.amount,
                                        currency=booked.currency, reference=booked.reference),
                        now + dt.timedelta(seconds=1))
        db.add_all([quote, booked, trip])
        await db.commit()
        return Rides(quote.id, trip.id)
