"""The paid-booking rows of ``make bench``, and the overspend check.

A paid booking can't be one request repeated: each quote is booked once, and each
paid call needs its own Idempotency-Key. So these rows give wrk a list of
requests (one fresh quote each, made just before the row runs) instead of one.

- **Direct**: ``POST /trips`` on the rides process with a Txn-Token that already
  carries a payment for the quote, as the gateway sends it after paying: what
  booking costs the service itself.
- **Through the gateway**: ``POST /api/rides/trips`` with an agent's token
  (``rides:book payments:spend``, a mandate on its grant) and an Idempotency-Key:
  the first forward (402), the reservation against the mandate, the simulated
  processor's authorization, the second forward with the payment, the capture,
  the receipt, and the Idempotency-Key record around it all.

The **overspend check** then sends 50 paid bookings at once against a mandate
whose budget covers exactly 10 of them, several rounds, and counts the rounds
whose captured payments sum to more than the budget. It must be 0.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

PICKUP, DROPOFF = "Gare de Lyon", "Gare du Nord"  # every quote the same price
PAY_SCOPE = "rides:read rides:book payments:spend"
TEST_CARD = "4242424242424242"  # Stripe's test Visa: every payment succeeds


@dataclass(frozen=True)
class Call:
    """One request of a row that can't repeat the same request."""

    body: str
    headers: dict[str, str]


# Calls for one wrk run; called again for the warm-up and the measurement, so no
# quote is booked twice.
CallFactory = Callable[[int], list[Call]]


# wrk runs this for a row with a list of calls: thread t of n takes calls t, t+n, ...
WRK_CALLS_SCRIPT = """\
local calls = {calls}
local method = {method}
local next_thread = 0
local threads = {threads}

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local position = 0

function request()
  local i = (thread_index or 0) + position * threads
  position = position + 1
  -- Past the end the calls repeat (and fail as "already booked"): the errors column shows it.
  local call = calls[(i % #calls) + 1]
  return wrk.format(method, nil, call.headers, call.body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def lua(value: Any) -> str:
    """A Python str, dict of str, or None as a Lua literal (JSON strings are Lua strings)."""
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def calls_script(method: str, calls: Sequence[Call], threads: int) -> str:
    table = "{\n" + ",\n".join(f"  {{body = {lua(c.body)}, headers = {lua(c.headers)}}}"
                               for c in calls) + "\n}"
    return WRK_CALLS_SCRIPT.format(calls=table, method=lua(method), threads=threads)


# --- the data the rows need ---------------------------------------------------------------


async def _sessionmaker_of(database_url: str) -> Any:
    from services.common.db import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    return engine, make_sessionmaker(engine)


async def save_card(database_url: str, user_id: uuid.UUID) -> None:
    """Save Stripe's test Visa for the person, as the Payments page does (simulated)."""
    from gateway.payments import methods
    from gateway.payments.processors.simulated import SimulatedProcessor

    engine, sessionmaker = await _sessionmaker_of(database_url)
    try:
        await methods.finish_setup(sessionmaker, SimulatedProcessor(sessionmaker), user_id,
                                   card_number=TEST_CARD, exp_month=12, exp_year=2040)
    finally:
        await engine.dispose()


def grant_of(access_token: str) -> uuid.UUID:
    """The grant an access token was issued under (its ``grant_id`` claim)."""
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return uuid.UUID(claims["grant_id"])


async def give_mandate(database_url: str, grant_id: uuid.UUID, detail: dict[str, Any]) -> None:
    """Store a payment_mandate on the grant, as consent stores the one an agent asks for."""
    import sqlalchemy as sa

    from gateway.identity.models import Grant

    engine, sessionmaker = await _sessionmaker_of(database_url)
    try:
        async with sessionmaker() as db, db.begin():
            updated = await db.execute(sa.update(Grant).where(Grant.id == grant_id)
                                       .values(authorization_details=[detail]))
            assert updated.rowcount == 1, f"no grant {grant_id}"
    finally:
        await engine.dispose()


async def make_quotes(database_url: str, rider_id: str, count: int) -> list[tuple[str, int, str]]:
    """``count`` fresh quotes for the same ride: (id, amount, payment reference) each."""
    import sqlalchemy as sa

    from services.common.db import utcnow
    from services.rides.models import Place
    from services.rides.pricing import Product
    from services.rides.service import new_quote

    engine, sessionmaker = await _sessionmaker_of(database_url)
    try:
        async with sessionmaker() as db:
            places = {p.name: p for p in (await db.scalars(
                sa.select(Place).where(Place.name.in_([PICKUP, DROPOFF])))).all()}
        now = utcnow()
        quotes = [new_quote(rider_id, places[PICKUP], places[DROPOFF], Product.STANDARD, now)
                  for _ in range(count)]
        made = [(str(q.id), q.amount, q.reference) for q in quotes]
        # A transaction of its own whose first statement writes: on SQLite a read first
        # would pin a snapshot that a concurrent writer makes stale ("database is locked").
        async with sessionmaker() as db, db.begin():
            db.add_all(quotes)
        return made
    finally:
        await engine.dispose()


def mandate(*, max_per_payment: int, budget: int) -> dict[str, Any]:
    return {"type": "payment_mandate", "currency": "EUR", "max_per_payment": max_per_payment,
            "budget": {"amount": budget, "period": "month"}, "services": ["rides"]}


# --- the overspend check ---------------------------------------------------------------------


@dataclass(frozen=True)
class OverspendRound:
    budget: int
    captured: int  # the sum of captured payments
    paid: int  # 201 answers
    refused: int  # 402 budget_exhausted answers
    other: dict[int, int]  # any other status: how many times

    @property
    def overspent(self) -> bool:
        return self.captured > self.budget


async def _captured(database_url: str, grant_id: uuid.UUID) -> int:
    import sqlalchemy as sa

    from gateway.payments.models import Payment

    engine, sessionmaker = await _sessionmaker_of(database_url)
    try:
        async with sessionmaker() as db:
            total = await db.scalar(sa.select(sa.func.coalesce(sa.func.sum(
                Payment.amount_captured), 0)).where(Payment.grant_id == grant_id,
                                                     Payment.status == "captured"))
            return int(total or 0)
    finally:
        await engine.dispose()


async def overspend_round(gateway: str, database_url: str, rider_id: str, token: str, *,
                          concurrent: int, covered: int) -> OverspendRound:
    """``concurrent`` paid bookings at once against a budget for ``covered`` of them."""
    quotes = await make_quotes(database_url, rider_id, concurrent)
    price = quotes[0][1]
    budget = price * covered
    grant_id = grant_of(token)
    await give_mandate(database_url, grant_id, mandate(max_per_payment=price, budget=budget))
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrent)
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=120.0,
                                 limits=limits) as http:
        answers = await asyncio.gather(*(
            http.post("/api/rides/trips", json={"quote_id": quote_id},
                      headers={"Idempotency-Key": f'"{uuid.uuid4()}"'})
            for quote_id, _, _ in quotes))
    refused = sum(1 for a in answers if a.status_code == 402
                  and a.json().get("reason") == "budget_exhausted")
    paid = sum(1 for a in answers if a.status_code == 201)
    other = dict(sorted(Counter(a.status_code for a in answers
                                if a.status_code not in (201, 402)).items()))
    return OverspendRound(budget=budget, captured=await _captured(database_url, grant_id),
                          paid=paid, refused=refused, other=other)
