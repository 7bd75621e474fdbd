"""Why the gateway won't pay by itself: one 402 problem with a stable reason and a place to fix it.

The reasons are part of the API (agents branch on them), so they are listed here
once, each with the page where the person can change the answer.
"""

from __future__ import annotations

from typing import Any

from gateway.payments.mandates import money
from services.common.problems import Problem

# reason -> (what to tell the caller, where the person can fix it)
REASONS: dict[str, tuple[str, str]] = {
    "no_mandate": ("The person has given this agent no spending mandate.", "/agents"),
    "mandate_expired": ("The spending mandate has expired.", "/agents"),
    "service_not_in_mandate": ("The mandate does not cover this service.", "/agents"),
    "currency_not_in_mandate": ("The mandate is in another currency.", "/agents"),
    "over_per_payment_cap": ("The payment is above the mandate's limit per payment.", "/agents"),
    "budget_exhausted": ("The mandate's budget for this period is spent.", "/agents"),
    "no_payment_method": ("The person has no saved card to pay with.", "/payments"),
    "card_declined": ("The card was declined.", "/payments"),
    "approval_denied": ("The person declined this payment.", "/approvals"),
    "approval_expired": ("The person did not approve this payment in time.", "/approvals"),
    "grant_revoked": ("The agent's access was revoked before the payment was approved.",
                      "/agents"),
}


class PaymentRefused(Problem):
    """402: the gateway will not pay for this call; ``reason`` says why, ``fix_at`` where."""

    def __init__(self, reason: str, *, amount: int, currency: str, issuer: str,
                 detail: str | None = None, **extra: Any) -> None:
        text, fix_at = REASONS[reason]
        super().__init__(
            402, "payment-refused",
            f"{detail or text} Nothing was charged for {money(amount, currency)}.",
            reason=reason, amount=amount, currency=currency, fix_at=f"{issuer}{fix_at}",
            **extra)
        self.reason = reason
