"""A small Stripe behind respx: PaymentIntents and refunds that remember their idempotency keys.

The gateway's Stripe adapter talks to https://api.stripe.com through the official
SDK; respx answers instead, with Stripe's own example objects
(tests/support/stripe_fixtures.py). Two things make it Stripe enough for fault
tests:

- **Idempotency.** A request whose Idempotency-Key was answered before gets the
  same answer again and changes nothing (https://docs.stripe.com/api/idempotent_requests),
  so the SDK's retries, the ledger's and reconciliation's reach the same intent.
- **Faults, queued per operation.** ``"timeout"``: the request never reached
  Stripe. ``"lost"``: Stripe did it, then the network dropped the answer (the
  nastiest one: only the idempotency key saves a double charge). ``"500"`` and
  ``"429"``: Stripe's error answers, nothing done.

It counts what it actually did (``done``) apart from what it was asked
(``asked``), so a test can say "asked three times, captured once".
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import respx
import sqlalchemy as sa
import stripe
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments.models import PaymentAccount, PaymentMethod
from tests.support.stripe_fixtures import NoWaitHTTPXClient, stripe_object

SECRET_KEY = "sk_test_agentgate"
PUBLISHABLE_KEY = "pk_test_agentgate"
WEBHOOK_SECRET = "whsec_agentgate_test"
CUSTOMER = "cus_NffrFeUfNV2Hib"
CARD = "pm_1NO6mA2eZvKYlo2CUmdFh1Ug"
RETRIES = 2  # the SDK's network retries: three tries in all

Fault = Literal["timeout", "lost", "500", "429"]
Operation = Literal["create", "capture", "cancel", "confirm", "refund"]


@dataclass(frozen=True)
class Asked:
    """One request Stripe received (or would have, for a timeout)."""

    operation: str
    intent_id: str | None
    idempotency_key: str | None


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def _error(status: int, type_: str, message: str, **more: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": type_, "message": message, **more}})


class StripeDouble:
    """PaymentIntents (create+confirm, retrieve, confirm, capture, cancel) and refunds."""

    def __init__(self, api: respx.MockRouter) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.asked: list[Asked] = []
        self.done: Counter[str] = Counter()
        # What confirming a new intent gives: held, or the bank wants the person.
        self.outcome: Literal["requires_capture", "authentication_required"] = (
            "requires_capture")
        self._faults: dict[str, list[Fault]] = {}
        self._always: dict[str, Fault] = {}
        self._answers: dict[str, httpx.Response] = {}
        self._meeting: tuple[list[int], anyio.Event] | None = None
        self._ids = itertools.count(1)
        pi = r"^/v1/payment_intents/(?P<intent_id>[^/]+)"
        api.post("/v1/payment_intents").mock(side_effect=self._create)
        api.get(path__regex=pi + "$").mock(side_effect=self._retrieve)
        api.post(path__regex=pi + "/capture$").mock(side_effect=self._capture)
        api.post(path__regex=pi + "/cancel$").mock(side_effect=self._cancel)
        api.post(path__regex=pi + "/confirm$").mock(side_effect=self._confirm)
        api.post("/v1/refunds").mock(side_effect=self._refund)

    # -- what a test sets up ------------------------------------------------------------

    def fail(self, operation: Operation, *faults: Fault) -> None:
        """The next requests for ``operation`` meet these faults, one each, in order."""
        self._faults.setdefault(operation, []).extend(faults)

    def fail_always(self, operation: Operation, fault: Fault) -> None:
        """Every request for ``operation`` meets ``fault`` until :meth:`heal`."""
        self._always[operation] = fault

    def rendezvous(self, creations: int) -> None:
        """Hold each new intent's creation until ``creations`` have arrived (a race)."""
        self._meeting = ([creations], anyio.Event())

    def heal(self) -> None:
        self._faults.clear()
        self._always.clear()

    # -- what a test checks -------------------------------------------------------------

    def keys(self, operation: str) -> list[str | None]:
        """The Idempotency-Key of every request for ``operation``, in order."""
        return [a.idempotency_key for a in self.asked if a.operation == operation]

    def only_intent(self) -> dict[str, Any]:
        [intent] = self.intents.values()
        return intent

    # -- Stripe ---------------------------------------------------------------------------

    def _answer(self, operation: str, request: httpx.Request, intent_id: str | None,
                act: Any) -> httpx.Response:
        """Fault, replay or act: the order Stripe's idempotency layer and the network impose."""
        key = request.headers.get("Idempotency-Key")
        self.asked.append(Asked(operation, intent_id, key))
        queued = self._faults.get(operation)
        fault = queued.pop(0) if queued else self._always.get(operation)
        if fault == "timeout":
            raise httpx.ReadTimeout("Stripe did not answer", request=request)
        if fault == "500":
            return _error(500, "api_error", "Something went wrong on Stripe's end.")
        if fault == "429":
            return _error(429, "invalid_request_error", "Too many requests hit the API "
                          "too quickly.", code="rate_limit")
        if key is not None and key in self._answers:
            stored = self._answers[key]
            answer = httpx.Response(stored.status_code, content=stored.content,
                                    headers={**stored.headers, "Idempotent-Replayed": "true"})
        else:
            answer = act()
            if key is not None:
                self._answers[key] = answer
        if fault == "lost":
            raise httpx.ReadTimeout("the connection dropped after Stripe answered",
                                    request=request)
        return answer

    async def _create(self, request: httpx.Request) -> httpx.Response:
        if self._meeting is not None:
            left, met = self._meeting
            left[0] -= 1
            if left[0] <= 0:
                met.set()
            await met.wait()

        def act() -> httpx.Response:
            form = _form(request)
            amount = int(form["amount"])
            intent = stripe_object(
                "payment_intent", id=f"pi_3MtwBwLkdIwHu7ix{next(self._ids):08d}",
                amount=amount, amount_capturable=amount, amount_received=0,
                currency=form["currency"], customer=form["customer"],
                payment_method=form["payment_method"], capture_method="manual",
                confirmation_method="automatic", status="requires_capture",
                description=form.get("description"), canceled_at=None,
                last_payment_error=None, next_action=None, latest_charge=None,
                metadata={k[len("metadata["):-1]: v for k, v in form.items()
                          if k.startswith("metadata[")})
            self.intents[intent["id"]] = intent
            self.done["create"] += 1
            if self.outcome == "authentication_required":
                # Off-session, the bank's wish to see the person is a 402 card error
                # carrying the intent (https://docs.stripe.com/payments/save-and-reuse).
                error = {"type": "card_error", "code": "authentication_required",
                         "decline_code": "authentication_required",
                         "message": "Your card was declined. This transaction requires "
                                    "authentication."}
                intent.update(status="requires_payment_method", amount_capturable=0,
                              last_payment_error=error)
                return httpx.Response(402, json={"error": error | {"payment_intent": intent}})
            return httpx.Response(200, json=intent)
        return self._answer("create", request, None, act)

    def _retrieve(self, request: httpx.Request, intent_id: str) -> httpx.Response:
        self.asked.append(Asked("retrieve", intent_id, None))
        if intent_id not in self.intents:
            return _error(404, "invalid_request_error", f"No such payment_intent: '{intent_id}'",
                          code="resource_missing")
        return httpx.Response(200, json=self.intents[intent_id])

    def _move(self, operation: str, request: httpx.Request, intent_id: str,
              allowed: tuple[str, ...], **values: Any) -> httpx.Response:
        def act() -> httpx.Response:
            intent = self.intents.get(intent_id)
            if intent is None:
                return _error(404, "invalid_request_error", "No such payment_intent",
                              code="resource_missing")
            if intent["status"] not in allowed:
                return _error(400, "invalid_request_error",
                              f"You cannot {operation} this PaymentIntent because it has a "
                              f"status of {intent['status']}.",
                              code="payment_intent_unexpected_state")
            intent.update({k: (v(intent) if callable(v) else v) for k, v in values.items()})
            self.done[operation] += 1
            return httpx.Response(200, json=intent)
        return self._answer(operation, request, intent_id, act)

    def _capture(self, request: httpx.Request, intent_id: str) -> httpx.Response:
        return self._move("capture", request, intent_id, ("requires_capture",),
                          status="succeeded", amount_received=lambda i: i["amount"],
                          amount_capturable=0)

    def _cancel(self, request: httpx.Request, intent_id: str) -> httpx.Response:
        return self._move("cancel", request, intent_id,
                          ("requires_payment_method", "requires_capture",
                           "requires_confirmation", "requires_action"),
                          status="canceled", amount_capturable=0,
                          cancellation_reason="requested_by_customer")

    def _confirm(self, request: httpx.Request, intent_id: str) -> httpx.Response:
        return self._move("confirm", request, intent_id, ("requires_confirmation",),
                          status="requires_capture", amount_capturable=lambda i: i["amount"],
                          last_payment_error=None)

    def _refund(self, request: httpx.Request) -> httpx.Response:
        def act() -> httpx.Response:
            form = _form(request)
            intent = self.intents.get(form["payment_intent"])
            if intent is None or intent["status"] != "succeeded":
                return _error(400, "invalid_request_error", "This PaymentIntent has no "
                              "successful charge to refund.", code="charge_not_refundable")
            refund = stripe_object("refund", id=f"re_3MtwBwLkdIwHu7ix{next(self._ids):08d}",
                                   amount=int(form["amount"]), currency=intent["currency"],
                                   payment_intent=intent["id"], status="succeeded",
                                   metadata={k[len("metadata["):-1]: v for k, v in form.items()
                                             if k.startswith("metadata[")})
            self.refunds[refund["id"]] = refund
            self.done["refund"] += 1
            return httpx.Response(200, json=refund)
        return self._answer("refund", request, None, act)


async def card_on_file(sessionmaker: async_sessionmaker[AsyncSession],
                       user_id: Any) -> None:
    """The person's Stripe customer and saved card, as a finished SetupIntent leaves them.

    Replaces what the demo data gave them (a simulated card), as switching to Stripe does.
    """
    async with sessionmaker() as db, db.begin():
        await db.execute(sa.delete(PaymentMethod).where(PaymentMethod.user_id == user_id))
        await db.execute(sa.delete(PaymentAccount).where(PaymentAccount.user_id == user_id))
        db.add(PaymentAccount(user_id=user_id, processor="stripe", customer_id=CUSTOMER))
        await db.flush()
        db.add(PaymentMethod(user_id=user_id, processor="stripe", processor_method_id=CARD,
                             brand="visa", last4="4242", exp_month=12, exp_year=2034,
                             is_default=True))


@contextlib.contextmanager
def stripe_api() -> Iterator[StripeDouble]:
    """Intercept https://api.stripe.com for the duration, with a fresh double."""
    with respx.mock(base_url="https://api.stripe.com", assert_all_called=False) as api:
        yield StripeDouble(api)


@contextlib.asynccontextmanager
async def stripe_gateway(database_url: str,
                         monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FastAPI]:
    """The whole system in-process with Stripe configured, on a seeded database.

    The SDK's retries skip their back-off sleep (NoWaitHTTPXClient), so a fault test
    meets three tries in milliseconds; everything else is the production wiring.
    Reconciliation's own beat is pushed out of the way: its first pass is over before
    the test begins (else, on a slow machine, it could find the test's half-finished
    payments and settle them behind its back), and the next is an hour away; tests
    call it when the story needs it.
    """
    from gateway.app import create_app
    from gateway.config import Settings
    from seeds.loader import seed

    await seed(database_url)
    settings = Settings(env="test", database_url=database_url, stripe_secret_key=SECRET_KEY,
                        stripe_publishable_key=PUBLISHABLE_KEY,
                        stripe_webhook_secret=WEBHOOK_SECRET,
                        stripe_max_network_retries=RETRIES, reconcile_seconds=3600)
    with monkeypatch.context() as patch:
        patch.setattr(stripe, "HTTPXClient", NoWaitHTTPXClient)
        app = create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.reconciled.wait(), timeout=30)
        yield app
