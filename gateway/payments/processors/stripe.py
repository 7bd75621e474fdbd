"""Stripe, through the official stripe-python SDK, and only here.

Everything the gateway asks of Stripe goes through :class:`StripeProcessor`, so the
rest of the code knows the :class:`~gateway.payments.processor.Processor` protocol
and never the SDK. Why it is shaped so:

- The SDK runs on its httpx client (``stripe.HTTPXClient``) and every call is its
  ``*_async`` form: a payment happens inside a person's or an agent's request, and
  a blocking call would stall every other request on the event loop. It is also
  the HTTP boundary the tests intercept with respx.
- Each call that creates or moves money sends our own ``idempotency_key`` (derived
  from the ledger row) as Stripe's ``Idempotency-Key``, and the SDK retries timeouts,
  dropped connections, 409s and 5xx with that same header
  (https://docs.stripe.com/api/idempotent_requests,
  https://docs.stripe.com/error-low-level#idempotency): a retry reaches the same
  object instead of charging twice.
- A saved card is charged off-session with ``capture_method="manual"``: the
  authorization holds the money while the service does its work, and the gateway
  captures only if the service delivered (https://docs.stripe.com/payments/place-a-hold-on-a-payment-method,
  https://docs.stripe.com/payments/save-and-reuse#charge-saved-payment-method).
- A decline is an answer, not an error: Stripe's 402 carries the PaymentIntent,
  which becomes an :class:`Intent` with its decline code
  (https://docs.stripe.com/declines/codes). ``authentication_required`` means the
  bank wants the person (https://docs.stripe.com/payments/save-and-reuse#handle-off-session-errors),
  so it becomes ``REQUIRES_ACTION`` and the ledger holds the request for them.
- Everything else becomes a :class:`ProcessorError` that says whether asking again
  may help (``retryable``) and whether the call may have taken effect at Stripe
  (``maybe_applied``: a timeout after sending, a 5xx), which the ledger must then
  find out with the same idempotency key before it moves on.
- Webhooks are verified with the endpoint's signing secret and a 300 s tolerance,
  Stripe's own default against replays (https://docs.stripe.com/webhooks#verify-events).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import stripe

from gateway.payments.processor import (
    Card,
    CardError,
    Intent,
    IntentStatus,
    InvalidWebhook,
    ProcessorError,
    ProcessorEvent,
    RefundResult,
    SetupStart,
)

if TYPE_CHECKING:
    from gateway.config import Settings

T = TypeVar("T")

# Stripe's default: an older signed timestamp is refused, so a captured delivery
# can't be replayed later (https://docs.stripe.com/webhooks#replay-prevention).
WEBHOOK_TOLERANCE_SECONDS = 300

# The events the ledger settles on (https://docs.stripe.com/api/events/types).
INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.canceled",
        "payment_intent.payment_failed",
        "payment_intent.amount_capturable_updated",
        "payment_intent.requires_action",
    }
)
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})

# Stripe's statuses onto ours. ``requires_confirmation`` only needs another confirm,
# which is what the ledger does for ``REQUIRES_ACTION``.
_STATUSES = {
    "requires_payment_method": IntentStatus.REQUIRES_PAYMENT_METHOD,
    "requires_confirmation": IntentStatus.REQUIRES_ACTION,
    "requires_action": IntentStatus.REQUIRES_ACTION,
    "processing": IntentStatus.PROCESSING,
    "requires_capture": IntentStatus.REQUIRES_CAPTURE,
    "succeeded": IntentStatus.SUCCEEDED,
    "canceled": IntentStatus.CANCELED,
}


def _id_of(value: Any) -> str | None:
    """An id field, expanded (an object) or not (a string)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


def intent_from(data: Mapping[str, Any], error: Mapping[str, Any] | None = None) -> Intent:
    """Read a PaymentIntent object (an API answer or a webhook's); ValueError if malformed.

    ``error`` is the error object of a 402, which is fresher than the intent's own
    ``last_payment_error`` when both are there.
    """
    try:
        status = _STATUSES[data["status"]]
        last_error = error or data.get("last_payment_error") or {}
        code = last_error.get("code")
        if code == "authentication_required" and status == IntentStatus.REQUIRES_PAYMENT_METHOD:
            status = IntentStatus.REQUIRES_ACTION
        declined = status == IntentStatus.REQUIRES_PAYMENT_METHOD and bool(last_error)
        charge = data.get("latest_charge")
        refunded = charge.get("amount_refunded", 0) if isinstance(charge, Mapping) else 0
        return Intent(
            id=str(data["id"]),
            status=status,
            amount=int(data["amount"]),
            currency=str(data["currency"]),
            amount_capturable=int(data.get("amount_capturable") or 0),
            amount_received=int(data.get("amount_received") or 0),
            amount_refunded=int(refunded or 0),
            decline_code=(last_error.get("decline_code") or code) if declined else None,
            decline_message=last_error.get("message") if declined else None,
            client_secret=data.get("client_secret")
            if status == IntentStatus.REQUIRES_ACTION
            else None,
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a PaymentIntent: {exc!r}") from exc


def refund_from(data: Mapping[str, Any]) -> RefundResult:
    """Read a Refund object; ValueError if malformed."""
    try:
        return RefundResult(
            id=str(data["id"]), status=str(data["status"]), amount=int(data["amount"])
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a Refund: {exc!r}") from exc


def event_from(data: Any) -> ProcessorEvent:
    """Reduce a verified Event to what the ledger settles on; ValueError if malformed."""
    if not isinstance(data, dict) or data.get("object") != "event":
        raise ValueError("not a Stripe event")
    event_id, event_type, created = data.get("id"), data.get("type"), data.get("created")
    obj = (data.get("data") or {}).get("object")
    if not (
        isinstance(event_id, str)
        and isinstance(event_type, str)
        and isinstance(created, int)
        and isinstance(obj, dict)
    ):
        raise ValueError("a Stripe event needs an id, a type, a created time and data.object")
    intent = refund = None
    payment_intent_id = None
    if event_type in INTENT_EVENTS:
        intent = intent_from(obj)
        payment_intent_id = intent.id
    elif event_type == "charge.refunded":
        payment_intent_id = _id_of(obj.get("payment_intent"))
    elif event_type in REFUND_EVENTS:
        refund = refund_from(obj)
        payment_intent_id = _id_of(obj.get("payment_intent"))
    return ProcessorEvent(
        id=event_id,
        type=event_type,
        created=created,
        intent=intent,
        refund=refund,
        payment_intent_id=payment_intent_id,
        raw=data,
    )


def processor_error(exc: stripe.StripeError) -> ProcessorError:
    """Say whether asking again may help and whether the call may have taken effect."""
    message = f"Stripe: {exc.user_message or type(exc).__name__}"
    if isinstance(exc, stripe.APIConnectionError):
        # A timeout or a dropped connection, after the SDK's own retries: the request
        # may have reached Stripe and succeeded.
        return ProcessorError(message, retryable=True, maybe_applied=True)
    if isinstance(exc, stripe.RateLimitError):
        # Refused before doing anything (https://docs.stripe.com/rate-limits).
        return ProcessorError(message, retryable=True, maybe_applied=False)
    if isinstance(exc, stripe.APIError):
        # 5xx, 409 (a concurrent request with the same key) or an unreadable answer:
        # Stripe may have done it (https://docs.stripe.com/error-low-level#server-errors).
        return ProcessorError(message, retryable=True, maybe_applied=True)
    # An invalid request, a bad key, an idempotency_error: the same call fails again.
    return ProcessorError(message, retryable=False)


def _error_object(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


class StripeProcessor:
    """The Processor protocol on Stripe's API (customers, SetupIntents, PaymentIntents)."""

    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        publishable_key: str | None = None,
        webhook_secret: str | None = None,
        max_network_retries: int = 2,
        timeout_seconds: float = 10.0,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        # Tests pass their own client (one that doesn't sleep between retries).
        self._http = http_client or stripe.HTTPXClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(
            secret_key, http_client=self._http, max_network_retries=max_network_retries
        )
        self._publishable_key = publishable_key
        self._webhook_secret = webhook_secret

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProcessor:
        if not settings.stripe_secret_key:
            raise ValueError("AGENTGATE_STRIPE_SECRET_KEY is not set")
        return cls(
            secret_key=settings.stripe_secret_key,
            publishable_key=settings.stripe_publishable_key,
            webhook_secret=settings.stripe_webhook_secret,
            max_network_retries=settings.stripe_max_network_retries,
            timeout_seconds=settings.stripe_timeout_seconds,
        )

    @property
    def simulated(self) -> bool:
        return False

    async def aclose(self) -> None:
        """Close the SDK's httpx connection pool (at shutdown)."""
        await self._http.close_async()  # type: ignore[no-untyped-call]  # untyped in the SDK

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except stripe.StripeError as exc:
            raise processor_error(exc) from exc

    async def _intent_call(self, call: Awaitable[stripe.PaymentIntent]) -> Intent:
        try:
            intent = await call
        except stripe.CardError as exc:
            # A decline: the 402's error object carries the PaymentIntent it left.
            error = _error_object(exc)
            declined = error.get("payment_intent")
            if not isinstance(declined, dict):
                raise processor_error(exc) from exc
            return self._read(declined, error)
        except stripe.StripeError as exc:
            raise processor_error(exc) from exc
        return self._read(intent.to_dict())

    @staticmethod
    def _read(data: Mapping[str, Any], error: Mapping[str, Any] | None = None) -> Intent:
        try:
            return intent_from(data, error)
        except ValueError as exc:
            raise ProcessorError(f"Stripe: unexpected answer ({exc})", retryable=False) from exc

    async def create_customer(self, *, user_id: str, name: str, email: str) -> str:
        """Create the person's Stripe customer (once, even if this call is retried)."""
        customer = await self._call(
            self._client.v1.customers.create_async(
                {"name": name, "email": email, "metadata": {"user_id": user_id}},
                {"idempotency_key": f"agentgate-customer-{user_id}"},
            )
        )
        return customer.id

    async def start_setup(self, *, customer_id: str) -> SetupStart:
        """Open a SetupIntent for off-session use; Stripe.js confirms it in the browser."""
        setup = await self._call(
            self._client.v1.setup_intents.create_async(
                {
                    "customer": customer_id,
                    "usage": "off_session",
                    "allowed_payment_method_types": ["card"],
                }
            )
        )
        return SetupStart(
            setup_intent_id=setup.id,
            client_secret=setup.client_secret,
            publishable_key=self._publishable_key,
        )

    async def finish_setup(
        self,
        *,
        customer_id: str,
        setup_intent_id: str | None = None,
        card_number: str | None = None,
        exp_month: int | None = None,
        exp_year: int | None = None,
    ) -> Card:
        """Read the SetupIntent Stripe.js confirmed and the card it saved."""
        if card_number is not None or not setup_intent_id:
            # A card number must never reach our servers with Stripe (PCI DSS): it goes
            # from the browser to Stripe.js, and we only ever see the SetupIntent.
            raise ProcessorError(
                "Stripe saves a card through a SetupIntent and Stripe.js, never from a card number",
                retryable=False,
            )
        setup = await self._call(
            self._client.v1.setup_intents.retrieve_async(
                setup_intent_id, {"expand": ["payment_method"]}
            )
        )
        data = setup.to_dict()
        if _id_of(data.get("customer")) != customer_id:
            raise ProcessorError("this SetupIntent belongs to another customer", retryable=False)
        if data.get("status") != "succeeded":
            error = data.get("last_setup_error") or {}
            if error:
                raise CardError(
                    error.get("message") or "Your card was declined.",
                    code=error.get("decline_code") or error.get("code"),
                )
            raise CardError(
                f"The card is not saved yet (the SetupIntent is {data.get('status')}).",
                code="setup_intent_unexpected_state",
            )
        method = data.get("payment_method")
        card = method.get("card") if isinstance(method, dict) else None
        if not isinstance(method, dict) or not isinstance(card, dict):
            raise CardError("Only cards can be saved.", code="payment_method_unsupported_type")
        return Card(
            method_id=str(method["id"]),
            brand=str(card["brand"]),
            last4=str(card["last4"]),
            exp_month=int(card["exp_month"]),
            exp_year=int(card["exp_year"]),
        )

    async def authorize(
        self,
        *,
        idempotency_key: str,
        customer_id: str,
        method_id: str,
        amount: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
    ) -> Intent:
        """Create and confirm an off-session PaymentIntent that holds the amount."""
        return await self._intent_call(
            self._client.v1.payment_intents.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "customer": customer_id,
                    "payment_method": method_id,
                    # The saved card only: nothing that would need a redirect off-session.
                    "allowed_payment_method_types": ["card"],
                    "capture_method": "manual",
                    "confirm": True,
                    "off_session": True,
                    "description": description,
                    "metadata": metadata,
                },
                {"idempotency_key": idempotency_key},
            )
        )

    async def retrieve(self, intent_id: str) -> Intent:
        """The intent now, with its charge expanded for what was refunded."""
        return await self._intent_call(
            self._client.v1.payment_intents.retrieve_async(intent_id, {"expand": ["latest_charge"]})
        )

    async def confirm(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Pick up an intent after the person authenticated.

        With Stripe the person authenticates in Stripe.js, which confirms the intent
        on session (``stripe.confirmCardPayment``); by now it usually holds the money
        already. Only an intent still waiting for confirmation is confirmed here.
        """
        current = await self._call(self._client.v1.payment_intents.retrieve_async(intent_id))
        if current.status != "requires_confirmation":
            return self._read(current.to_dict())
        return await self._intent_call(
            self._client.v1.payment_intents.confirm_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            )
        )

    async def capture(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Capture everything the intent holds."""
        return await self._intent_call(
            self._client.v1.payment_intents.capture_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            )
        )

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Release the hold; Stripe refuses once the intent is captured."""
        return await self._intent_call(
            self._client.v1.payment_intents.cancel_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            )
        )

    async def refund(
        self, intent_id: str, *, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundResult:
        """Refund part or all of a captured intent."""
        refund = await self._call(
            self._client.v1.refunds.create_async(
                {"payment_intent": intent_id, "amount": amount, "metadata": metadata},
                {"idempotency_key": idempotency_key},
            )
        )
        try:
            return refund_from(refund.to_dict())
        except ValueError as exc:
            raise ProcessorError(f"Stripe: unexpected answer ({exc})", retryable=False) from exc

    def parse_webhook(self, payload: bytes, signature: str | None) -> ProcessorEvent:
        """Verify Stripe-Signature (HMAC-SHA256, 300 s tolerance) and read the event."""
        if not self._webhook_secret:
            raise InvalidWebhook("no Stripe webhook secret is configured")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
            return event_from(json.loads(payload))
        except (stripe.SignatureVerificationError, ValueError) as exc:
            # ValueError covers a body that is not UTF-8, not JSON or not an event.
            raise InvalidWebhook(str(exc)) from exc
