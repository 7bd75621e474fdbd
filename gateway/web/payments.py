"""The Payments and Approvals pages: cards, the ledger with its refunds and receipts, held payments.

People-only (``PersonSession``): no bearer token reaches them, whatever its scopes,
so an agent can neither add a card nor approve its own spending. Every form carries
the session's CSRF token. Deciding an approval posts to the payments API
(gateway/payments/router.py), which redirects back to the approval's page here.

Wherever a card or a payment shows, so does the processor, and with the simulated
one the words "Simulated processor — no real money moves".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.auth import OptionalPrincipal, check_csrf
from gateway.identity.auth import PersonSession
from gateway.payments import history, methods
from gateway.payments.approvals import view
from gateway.payments.mandates import money
from gateway.payments.models import Approval, Payment, PaymentMethod, Refund
from gateway.payments.processor import CardError, ProcessorError
from gateway.payments.processors.simulated_cards import TEST_CARDS, CardBehaviour
from gateway.payments.wiring import Payments
from gateway.principal import Principal
from gateway.web.pages import Section, render

router = APIRouter()

# A payment's status in words; refunds are added to it (see payment_status).
PAYMENT_STATUSES = {
    "reserved": "Being authorized",
    "authorized": "Held on your card",
    "captured": "Paid",
    "voided": "Released, nothing charged",
    "declined": "Declined by the card",
    "failed": "Failed, nothing charged",
    "unknown": "Being checked with the processor",
}
REFUND_STATUSES = {"pending": "Refund pending", "succeeded": "Refunded", "failed": "Refund failed"}
APPROVAL_REASONS = {
    "over_threshold": "Above the approval threshold of its mandate",
    "authentication_required": "Your bank asks you to confirm this payment",
}
APPROVAL_OUTCOMES = {
    "pending": "Waiting for you",
    "approved": "Approved, being carried out",
    "completed": "Approved and done",
    "denied": "Denied, nothing paid",
    "expired": "Expired, nothing paid",
    "failed": "Approved, but it could not be carried out",
}
SIMULATED_LABEL = "Simulated processor — no real money moves"


@dataclass(frozen=True)
class TestCard:
    """One of the simulated processor's test cards, as the add-a-card form lists it."""

    number: str
    brand: str
    behaviour: str


def _behaviour(card: CardBehaviour) -> str:
    if card.setup_decline:
        return f"refused when you save it ({card.setup_decline.replace('_', ' ')})"
    if card.charge_decline:
        return "saved, but every payment is declined"
    if card.requires_authentication:
        return "saved; every payment asks you to confirm it, as a bank would"
    return "payments succeed"


TEST_CARD_LIST = [
    TestCard(
        " ".join(number[i : i + 4] for i in range(0, len(number), 4)),
        card.brand.title(),
        _behaviour(card),
    )
    for number, card in TEST_CARDS.items()
]


def _payments(request: Request) -> Payments:
    payments: Payments = request.app.state.payments
    return payments


async def nav_counts(request: Request, principal: OptionalPrincipal) -> None:
    """Dependency of the web pages: the Approvals badge in the navigation counts what waits."""
    if principal is not None and principal.via == "session":
        request.state.pending_approvals = await history.pending_count(
            _payments(request).sessionmaker, principal.user_id
        )


def payment_status(payment: Payment) -> str:
    """``Paid``, ``Paid, 12.40 EUR refunded``, ``Refunded``: where a payment stands, in words."""
    words = PAYMENT_STATUSES.get(payment.status, payment.status)
    if payment.amount_refunded:
        if payment.amount_refunded >= payment.amount_captured > 0:
            return "Refunded"
        return f"{words}, {money(payment.amount_refunded, payment.currency)} refunded"
    return words


def _render(
    request: Request,
    principal: Principal,
    section: Section,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    processor = _payments(request).processor
    return render(
        request,
        principal,
        section,
        template,
        {
            "payment_status": payment_status,
            "simulated": processor.simulated,
            "simulated_label": SIMULATED_LABEL,
            "processor_name": processor.name,
            "approval_reasons": APPROVAL_REASONS,
            "approval_outcomes": APPROVAL_OUTCOMES,
            "refund_statuses": REFUND_STATUSES,
            **context,
        },
        status_code=status_code,
    )


# -- the Payments page -------------------------------------------------------------------


async def _payments_page(
    request: Request,
    principal: Principal,
    *,
    card_error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    payments = _payments(request)
    cards = await methods.list_methods(payments.sessionmaker, principal.user_id)
    ledger = await history.payments_of(payments.sessionmaker, principal.user_id)
    refunds = await history.refunds_of(payments.sessionmaker, [p.id for p in ledger])
    setup = None
    if not payments.processor.simulated:
        # Stripe: a SetupIntent whose client secret Stripe.js confirms with the card
        # (the card number goes from the browser to Stripe, never through us).
        setup = await methods.start_setup(
            payments.sessionmaker, payments.processor, principal.user_id
        )
    return _render(
        request,
        principal,
        "payments",
        "payments/index.html",
        {
            "cards": [c for c in cards if c.processor == payments.processor.name],
            "ledger": ledger,
            "refunds": refunds,
            "setup": setup,
            "publishable_key": request.app.state.settings.stripe_publishable_key,
            "test_cards": TEST_CARD_LIST,
            "card_error": card_error,
            "notice": notice,
        },
        status_code=status_code,
    )


NOTICES = {
    "added": "Card saved. Payments use your default card.",
    "default": "Default card changed.",
    "removed": "Card removed. Past payments still show it.",
}


@router.get("/payments")
async def payments_home(request: Request, principal: PersonSession, done: str = "") -> HTMLResponse:
    """Show your cards, the payments made for you, their refunds and receipts."""
    return await _payments_page(request, principal, notice=NOTICES.get(done))


def _month_and_year(exp_month: str, exp_year: str) -> tuple[int, int]:
    try:
        return int(exp_month), int(exp_year)
    except ValueError:
        raise CardError(
            "Enter the card's expiry as numbers, e.g. 12 and 2030.", code="invalid_expiry"
        ) from None


@router.post("/payments/cards", response_model=None)
async def add_card(
    request: Request,
    principal: PersonSession,
    csrf_token: Annotated[str, Form()] = "",
    number: Annotated[str, Form()] = "",
    exp_month: Annotated[str, Form()] = "",
    exp_year: Annotated[str, Form()] = "",
    setup_intent_id: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Save a card: a test card number (simulated) or a SetupIntent Stripe.js confirmed."""
    check_csrf(request, principal, csrf_token)
    payments = _payments(request)
    try:
        if payments.processor.simulated:
            month, year = _month_and_year(exp_month, exp_year)
            await methods.finish_setup(
                payments.sessionmaker,
                payments.processor,
                principal.user_id,
                card_number=number,
                exp_month=month,
                exp_year=year,
            )
        else:
            await methods.finish_setup(
                payments.sessionmaker,
                payments.processor,
                principal.user_id,
                setup_intent_id=setup_intent_id,
            )
    except CardError as refused:
        # Shown in place, beside the form, as a card form shows a decline.
        return await _payments_page(request, principal, card_error=str(refused), status_code=422)
    except ProcessorError:
        return await _payments_page(
            request,
            principal,
            status_code=503,
            card_error="The payment processor could not be reached; no card was saved. "
            "Try again in a moment.",
        )
    return RedirectResponse("/payments?done=added#cards", status_code=303)


@router.post("/payments/cards/{method_id:uuid}/default")
async def make_default(
    request: Request,
    principal: PersonSession,
    method_id: uuid.UUID,
    csrf_token: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Pay with this card from now on."""
    check_csrf(request, principal, csrf_token)
    await methods.make_default(_payments(request).sessionmaker, principal.user_id, method_id)
    return RedirectResponse("/payments?done=default#cards", status_code=303)


@router.post("/payments/cards/{method_id:uuid}/remove")
async def remove_card(
    request: Request,
    principal: PersonSession,
    method_id: uuid.UUID,
    csrf_token: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Stop paying with this card; the ledger keeps what it paid."""
    check_csrf(request, principal, csrf_token)
    await methods.remove(_payments(request).sessionmaker, principal.user_id, method_id)
    return RedirectResponse("/payments?done=removed#cards", status_code=303)


async def receipt_page(request: Request, principal: Principal, payment: Payment) -> HTMLResponse:
    """One payment's receipt (GET /payments/{id} in a browser; the caller checked access)."""
    await nav_counts(request, principal)  # served by the payments API's router, not ours
    payments = _payments(request)
    refunds: list[Refund] = (await history.refunds_of(payments.sessionmaker, [payment.id])).get(
        payment.id, []
    )
    card: PaymentMethod | None = await history.method_of(payments.sessionmaker, payment)
    return _render(
        request,
        principal,
        "payments",
        "payments/receipt.html",
        {
            "payment": payment,
            "refunds": refunds,
            "card": card,
            # A receipt names its own processor: a payment made before Stripe keys were set
            # stays simulated.
            "simulated": payment.processor == "simulated",
        },
    )


# -- the Approvals inbox -----------------------------------------------------------------


@router.get("/approvals")
async def approvals_home(request: Request, principal: PersonSession) -> HTMLResponse:
    """Show the payments waiting for your approval, and the ones you decided lately."""
    approvals = _payments(request).approvals
    return _render(
        request,
        principal,
        "approvals",
        "payments/approvals.html",
        {
            "pending": await approvals.pending_for(principal.user_id),
            "recent": await approvals.recent_for(principal.user_id),
        },
    )


async def approval_page(request: Request, principal: Principal, approval: Approval) -> HTMLResponse:
    """One held payment: Approve / Deny while it waits, its outcome after (GET /approvals/{id})."""
    await nav_counts(request, principal)
    payments = _payments(request)
    payment = await history.payment_of_approval(payments.sessionmaker, approval)
    result = _result(approval)
    authentication = await _bank_challenge(request, approval, payment)
    return _render(
        request,
        principal,
        "approvals",
        "payments/approval.html",
        {
            "approval": approval,
            "payment": payment,
            "result": result,
            "authentication": authentication,
        },
    )


async def _bank_challenge(request: Request, approval: Approval,
                          payment: Payment | None) -> dict[str, str] | None:
    """What Stripe.js needs to run the bank's challenge before the person approves.

    Only with Stripe, for a pending approval the bank asked for: the PaymentIntent's
    client secret (read from Stripe now, never stored) and the publishable key. The
    simulated processor has no challenge: approving is the authentication.
    """
    payments = _payments(request)
    publishable_key = request.app.state.settings.stripe_publishable_key
    if (payments.processor.simulated or not publishable_key or payment is None
            or approval.status != "pending" or approval.reason != "authentication_required"
            or not payment.intent_id):
        return None
    try:
        intent = await payments.processor.retrieve(payment.intent_id)
    except ProcessorError:
        return None  # the page still offers Approve; confirming then says what went wrong
    async with payments.sessionmaker() as session:
        method = await session.get(PaymentMethod, payment.method_id) if payment.method_id else None
    if intent.client_secret is None or method is None:
        return None
    return {"publishable_key": publishable_key, "client_secret": intent.client_secret,
            "payment_method": method.processor_method_id}


def _result(approval: Approval) -> dict[str, Any] | None:
    """What carrying the request out gave: the service's answer, or why it was refused."""
    if approval.response_status is None:
        return None
    doc = view(approval, "")
    result: dict[str, Any] = doc["result"]
    body = result.get("body")
    result["detail"] = body.get("detail") if isinstance(body, dict) else None
    return result
