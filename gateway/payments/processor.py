"""What the gateway needs from a payment processor, and nothing more.

Two processors implement it: Stripe (gateway/payments/processors/stripe.py, the
official stripe-python SDK on its httpx client) and the built-in simulated one
(gateway/payments/processors/simulated.py), which follows the same PaymentIntent
state machine and test cards and says everywhere that it is simulated.

Amounts are integers in the currency's minor unit (cents), as Stripe counts them.
Every call that creates or moves money takes an ``idempotency_key`` derived from
our own ledger id, so a retried call (ours, the SDK's, or one after a crash)
reaches the same processor object instead of charging twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class IntentStatus(StrEnum):
    """A PaymentIntent's status, as Stripe names them (the simulated processor too)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"  # declined: try another method
    REQUIRES_ACTION = "requires_action"  # the bank wants the person to authenticate
    REQUIRES_CAPTURE = "requires_capture"  # authorized, held on the card
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"  # captured
    CANCELED = "canceled"  # voided


@dataclass(frozen=True)
class Card:
    """A saved card, as the person sees it."""

    method_id: str  # the processor's payment method id (pm_...)
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class SetupStart:
    """How the Payments page collects a card: a SetupIntent's client secret for Stripe.js."""

    setup_intent_id: str
    client_secret: str | None
    publishable_key: str | None = None


@dataclass(frozen=True)
class Intent:
    """A PaymentIntent as the processor last reported it."""

    id: str
    status: IntentStatus
    amount: int
    currency: str
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    # Set when the status is REQUIRES_PAYMENT_METHOD after a decline.
    decline_code: str | None = None
    decline_message: str | None = None
    # For REQUIRES_ACTION: what Stripe.js needs to let the person authenticate.
    client_secret: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str  # "succeeded" | "pending" | "failed" | "canceled", as Stripe names them
    amount: int


@dataclass(frozen=True)
class ProcessorEvent:
    """One verified webhook event, reduced to what the ledger settles on."""

    id: str
    type: str  # e.g. "payment_intent.succeeded", "charge.refunded"
    created: int
    intent: Intent | None = None
    refund: RefundResult | None = None
    payment_intent_id: str | None = None  # for refund and charge events
    raw: dict[str, Any] = field(default_factory=dict)


class ProcessorError(Exception):
    """The processor could not be asked, or answered with an error that is not a decline."""

    def __init__(self, message: str, *, retryable: bool, maybe_applied: bool = False) -> None:
        super().__init__(message)
        # True when the request may have reached the processor and taken effect
        # (a timeout or a dropped connection after sending): the ledger must then
        # find out (same idempotency key, or reconciliation) before moving on.
        self.retryable = retryable
        self.maybe_applied = maybe_applied


class CardError(Exception):
    """The card was refused when saving it (setup), with Stripe's decline code."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class InvalidWebhook(Exception):
    """A webhook whose signature, timestamp or body is not acceptable."""


class Processor(Protocol):
    """The operations the payments feature performs; one adapter per processor."""

    name: str  # "stripe" | "simulated"

    @property
    def simulated(self) -> bool: ...

    async def create_customer(self, *, user_id: str, name: str, email: str) -> str:
        """Create the processor's customer for a person; return its id (cus_...)."""

    async def start_setup(self, *, customer_id: str) -> SetupStart:
        """Begin saving a card for off-session use (a SetupIntent, usage off_session)."""

    async def finish_setup(self, *, customer_id: str, setup_intent_id: str | None = None,
                           card_number: str | None = None, exp_month: int | None = None,
                           exp_year: int | None = None) -> Card:
        """Finish saving a card: Stripe reads the confirmed SetupIntent; simulated takes a
        test card number. Raises CardError when the card is refused."""

    async def authorize(self, *, idempotency_key: str, customer_id: str, method_id: str,
                        amount: int, currency: str, description: str,
                        metadata: dict[str, str]) -> Intent:
        """Create and confirm an off-session PaymentIntent with manual capture.

        Returns REQUIRES_CAPTURE (authorized), REQUIRES_PAYMENT_METHOD (declined, with
        decline_code) or REQUIRES_ACTION (needs the person). Raises ProcessorError."""

    async def retrieve(self, intent_id: str) -> Intent:
        """The intent as it stands now (reconciliation, approvals)."""

    async def confirm(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Confirm again after the person authenticated (REQUIRES_ACTION -> ...)."""

    async def capture(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Capture an authorized intent in full."""

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Void an intent that is not captured."""

    async def refund(self, intent_id: str, *, amount: int, idempotency_key: str,
                     metadata: dict[str, str]) -> RefundResult:
        """Refund part or all of a captured intent."""

    def parse_webhook(self, payload: bytes, signature: str | None) -> ProcessorEvent:
        """Verify a webhook (signature, timestamp tolerance) and parse it; InvalidWebhook else."""
