"""Booking a ride the person pays for: dry-run first, then a paid call that handles 402 and 202.

- **Dry-run** (``Prefer: dry-run``): the rides service runs its real path with a
  pretend payment and stores nothing; the gateway adds ``payment_preview``: would
  the mandate pay (``would_pay``), ask the person (``needs_approval``) or refuse
  (``refused`` with a ``reason``)? Nothing is reserved or charged.
- **The paid call** carries an ``Idempotency-Key`` (one per booking, reused for every
  retry of *that* booking), so a timeout, a 503, a 429 or a 409
  ``idempotency-key-in-use`` is retried safely: a booking that went through is
  returned, never made twice.
- **402 payment-refused**: the gateway won't pay by itself. The ``reason`` is stable
  (``over_per_payment_cap``, ``budget_exhausted``, ``no_payment_method``...) and
  ``fix_at`` is the page where the *person* can change the answer. Retrying won't
  help; telling the person will.
- **202 Accepted**: the person must approve (above the mandate's threshold). The
  answer's ``Location`` is the approval to poll, as often as ``Retry-After`` says,
  until it is ``completed`` (the trip is in ``result.body``), ``denied``,
  ``expired`` or ``failed``.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from examples.agent.oauth import Say, Sleep, quiet

RETRIES = 5


class PaymentRefused(Exception):
    """The gateway won't pay: ``reason`` says why, ``fix_at`` where the person can change it."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail", "payment refused"))
        self.problem = problem
        self.reason: str = problem.get("reason", "unknown")
        self.fix_at: str | None = problem.get("fix_at")

    def advice(self) -> str:
        """What to tell the person, in one sentence."""
        where = f" at {self.fix_at}" if self.fix_at else ""
        detail = self.problem.get("detail", "")
        if self.reason == "budget_exhausted":
            return f"{detail} It resets at {self.problem.get('resets_at')}."
        if self.reason in ("over_per_payment_cap", "service_not_in_mandate", "no_mandate",
                           "mandate_expired", "currency_not_in_mandate"):
            return f"{detail} You can change what I may spend{where}."
        if self.reason in ("no_payment_method", "card_declined"):
            return f"{detail} Please check your card{where}."
        return f"{detail} See{where}." if where else detail


class NotCarriedOut(Exception):
    """The person denied the payment, or nobody decided in time; nothing was paid."""


@dataclass(frozen=True)
class Held:
    """A 202: the request waits for the person at ``url``."""

    url: str
    approval: dict[str, Any]
    retry_after: float


def problem_type(response: httpx.Response) -> str | None:
    """The last segment of a problem+json ``type`` (``payment-refused``), or None."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    return str(response.json().get("type", "")).rsplit("/", 1)[-1]


async def place(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """The first place whose name contains ``name``."""
    response = await http.get("/api/rides/places", params={"q": name, "limit": 5})
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    if not items:
        raise LookupError(f"no place called {name!r}")
    return items[0]


async def quote(http: httpx.AsyncClient, pickup: str, dropoff: str,
                product: str = "standard") -> dict[str, Any]:
    """Price a ride between two places (by name); the price holds for five minutes."""
    start, end = await place(http, pickup), await place(http, dropoff)
    response = await http.post("/api/rides/quotes", json={
        "pickup_place_id": start["id"], "dropoff_place_id": end["id"], "product": product})
    response.raise_for_status()
    priced: dict[str, Any] = response.json()
    return priced


async def dry_run(http: httpx.AsyncClient, quote_id: str) -> dict[str, Any]:
    """Book in dry-run: the trip as it would be and ``payment_preview``; nothing happens."""
    response = await http.post("/api/rides/trips", json={"quote_id": quote_id},
                               headers={"Prefer": "dry-run"})
    if response.headers.get("preference-applied") != "dry-run":
        raise RuntimeError("the gateway did not apply the dry-run; nothing else is sent")
    response.raise_for_status()
    preview: dict[str, Any] = response.json()
    return preview


def new_key() -> str:
    """An Idempotency-Key: a fresh UUID as a structured-field string (in quotes)."""
    return f'"{uuid.uuid4()}"'


async def book(http: httpx.AsyncClient, quote_id: str, *, key: str | None = None,
               sleep: Sleep = asyncio.sleep, say: Say = quiet) -> dict[str, Any] | Held:
    """Book a quoted ride, paying within the mandate.

    Returns the trip (with its ``payment_receipt``), or :class:`Held` when the person
    must approve first. Raises :class:`PaymentRefused` on a 402.
    """
    key = key or new_key()  # one key per booking, reused for every retry of it
    response: httpx.Response | None = None
    for _ in range(RETRIES):
        try:
            response = await http.post("/api/rides/trips", json={"quote_id": quote_id},
                                       headers={"Idempotency-Key": key})
        except httpx.TransportError as error:
            say(f"no answer ({error.__class__.__name__}); retrying with the same key")
            await sleep(2)  # did it book? the same key will tell, and never books twice
            continue
        # 503: the processor was not reached, nothing charged. 429: too many calls this
        # window. 409 in-use: our own earlier attempt is still running. All: wait as
        # long as Retry-After says, then the same request with the same key.
        if (response.status_code not in (429, 503)
                and problem_type(response) != "idempotency-key-in-use"):
            break
        say(f"{response.status_code}: retrying with the same key")
        await sleep(float(response.headers.get("retry-after", "5")))
    if response is None:
        raise RuntimeError("the gateway could not be reached")
    if response.status_code == 402:
        raise PaymentRefused(response.json())
    if response.status_code == 202:
        return Held(url=response.headers["location"], approval=response.json(),
                    retry_after=float(response.headers.get("retry-after", "5")))
    response.raise_for_status()
    trip: dict[str, Any] = response.json()
    return trip


async def wait_for_person(http: httpx.AsyncClient, held: Held, *, patience: float = 15 * 60,
                          sleep: Sleep = asyncio.sleep, say: Say = quiet) -> dict[str, Any]:
    """Poll the approval as often as its Retry-After says; return the trip once carried out."""
    approval, delay, waited = held.approval, held.retry_after, 0.0
    while approval["status"] in ("pending", "approved") and waited < patience:
        await sleep(delay)
        waited += delay
        response = await http.get(held.url)
        response.raise_for_status()
        approval = response.json()
        delay = float(response.headers.get("retry-after", delay))
        if approval["status"] == "pending":
            say(f"still waiting for the person's approval ({waited:g} s)")
    if approval["status"] == "completed":
        trip: dict[str, Any] = approval["result"]["body"]  # the service's answer, as if direct
        return trip
    result = approval.get("result") or {}
    if result.get("status") == 402:
        raise PaymentRefused(result["body"])  # approval_denied, approval_expired, grant_revoked
    raise NotCarriedOut(f"the approval is {approval['status']}: nothing was paid")


def price(amount: int, currency: str) -> str:
    """Minor units as a person reads them (every currency the demo uses has 2 decimals)."""
    return f"{amount / 100:.2f} {currency}"


def describe_mandate(detail: dict[str, Any]) -> str:
    """A payment_mandate in one line, as the agent repeats it to the person."""
    currency = detail["currency"]
    parts = [f"up to {price(detail['max_per_payment'], currency)} a payment"]
    if detail.get("budget"):
        budget = detail["budget"]
        parts.append(f"{price(budget['amount'], currency)} a {budget['period']}")
    if detail.get("approval_threshold") is not None:
        parts.append(f"ask above {price(detail['approval_threshold'], currency)}")
    return ", ".join(parts) + f" ({', '.join(detail.get('services', []))})"
