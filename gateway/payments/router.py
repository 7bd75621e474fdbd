"""The payments API: receipts, approvals (polled by agents, decided by people), webhooks.

``/payments/{id}`` and ``/approvals/{id}`` are each one resource with two
representations: the JSON an agent reads, and the page a person opens (the web
pages in gateway/web/payments.py render them when the browser asks for HTML).
Deciding an approval is people-only (a web session with its CSRF token, never a
token: an agent can't approve its own spending).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from gateway.auth import CurrentPrincipal, check_csrf
from gateway.identity.auth import PersonSession
from gateway.payments import webhooks
from gateway.payments.approvals import ApprovalNotFound, Approvals, poll_after, view
from gateway.payments.hook import receipt_of
from gateway.payments.models import Payment
from gateway.payments.processor import InvalidWebhook
from gateway.payments.wiring import Payments
from gateway.principal import Principal
from services.common.openapi import problem_responses
from services.common.problems import NotFound, Problem

router = APIRouter(tags=["payments"])


def _payments(request: Request) -> Payments:
    payments: Payments = request.app.state.payments
    return payments


def prefers_html(request: Request) -> bool:
    """True when the client asks for a page (a browser) rather than JSON (an agent)."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


class PaymentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such payment.")


async def visible_payment(request: Request, principal: Principal,
                          payment_id: uuid.UUID) -> Payment:
    """A payment its person may see; an agent sees only the payments its own grant made."""
    async with _payments(request).sessionmaker() as session:
        payment = await session.get(Payment, payment_id)
    if payment is None or payment.user_id != principal.user_id:
        raise PaymentNotFound
    if not principal.is_person and payment.grant_id != principal.grant_id:
        raise PaymentNotFound
    return payment


@router.get("/payments/{payment_id:uuid}", operation_id="get_payment",
            response_model=None, responses=problem_responses(401, 404))
async def get_payment(payment_id: uuid.UUID, request: Request,
                      principal: CurrentPrincipal) -> Response:
    """Show a payment's receipt: what, for whom, how much, where it stands."""
    payment = await visible_payment(request, principal, payment_id)
    if prefers_html(request) and principal.via == "session":
        from gateway.web.payments import receipt_page

        return await receipt_page(request, principal, payment)
    return JSONResponse(receipt_of(payment))


@router.get("/approvals/{approval_id:uuid}", operation_id="get_approval", response_model=None,
            responses=problem_responses(401, 404))
async def get_approval(approval_id: uuid.UUID, request: Request,
                       principal: CurrentPrincipal) -> Response:
    """Poll a held payment: pending, then completed (with the service's answer) or not."""
    approvals: Approvals = _payments(request).approvals
    approval = await approvals.get(approval_id, principal)
    if prefers_html(request) and principal.via == "session":
        from gateway.web.payments import approval_page

        return await approval_page(request, principal, approval)
    wait = poll_after(approval)
    headers = {"retry-after": str(wait)} if wait is not None else {}
    return JSONResponse(view(approval, request.app.state.settings.issuer), headers=headers)


async def _decide(request: Request, principal: Principal, approval_id: uuid.UUID,
                  csrf_token: str, *, approve: bool) -> Response:
    check_csrf(request, principal, csrf_token)
    approvals: Approvals = _payments(request).approvals
    try:
        if approve:
            await approvals.approve(approval_id, principal.user_id, request.app.state.pipeline)
        else:
            await approvals.deny(approval_id, principal.user_id)
    except ApprovalNotFound:
        raise
    except Problem as problem:
        if problem.status != 409:
            raise
        # Already decided (another tab, or it expired): the page shows where it stands.
    return RedirectResponse(f"/approvals/{approval_id}", status_code=303)


@router.post("/approvals/{approval_id:uuid}/approve", include_in_schema=False)
async def approve(approval_id: uuid.UUID, request: Request, principal: PersonSession,
                  csrf_token: Annotated[str, Form()] = "") -> Response:
    """Approve a held payment: the gateway carries the agent's request out now."""
    return await _decide(request, principal, approval_id, csrf_token, approve=True)


@router.post("/approvals/{approval_id:uuid}/deny", include_in_schema=False)
async def deny(approval_id: uuid.UUID, request: Request, principal: PersonSession,
               csrf_token: Annotated[str, Form()] = "") -> Response:
    """Deny a held payment: nothing is paid, anything held on the card is released."""
    return await _decide(request, principal, approval_id, csrf_token, approve=False)


@router.post("/payments/webhooks/{processor}", operation_id="receive_payment_webhook",
             include_in_schema=False)
async def receive_webhook(processor: str, request: Request) -> dict[str, Any]:
    """Receive a processor's webhook (public: the signature is the authentication)."""
    payments = _payments(request)
    if processor != payments.processor.name or payments.processor.simulated:
        raise NotFound(f"No webhooks are received for {processor!r}.")
    payload = await request.body()
    try:
        event = payments.processor.parse_webhook(payload,
                                                 request.headers.get("stripe-signature"))
    except InvalidWebhook as exc:
        raise Problem(400, "bad-request", f"The webhook was refused: {exc}") from exc
    applied = await webhooks.apply(payments.sessionmaker, payments.refunds,
                                   payments.processor.name, event)
    return {"received": True, "event": event.id, "duplicate": not applied}
