"""The rides service's expected failures, each a problem+json type (RFC 9457)."""

from __future__ import annotations

from typing import Any

from services.common.problems import BadRequest, Conflict, NotFound, Problem


class PlaceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such place.")


class QuoteNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such quote.")


class TripNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such trip.")


class PaymentRequired(Problem):
    """Booking costs money: the gateway pays ``amount`` against ``reference`` and retries."""

    def __init__(self, *, amount: int, currency: str, reference: str, description: str) -> None:
        super().__init__(
            402, "payment-required", f"This ride costs {amount / 100:.2f} {currency}.",
            amount=amount, currency=currency, reference=reference, description=description,
        )


class PaymentMismatch(Conflict):
    """The authorized payment is not for this quote (another amount, currency or reference)."""

    def __init__(self, *, expected: dict[str, Any]) -> None:
        super().__init__("The payment does not match the quote.", expected=expected)


class QuoteExpired(Problem):
    def __init__(self) -> None:
        super().__init__(410, "quote-expired", "The quote has expired; ask for a new one.")


class QuoteAlreadyBooked(Conflict):
    def __init__(self) -> None:
        super().__init__("This quote is already booked.")


class TripNotCancellable(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"A trip that is {status.replace('_', ' ')} can't be cancelled.",
                         trip_status=status)


class InvalidCursor(BadRequest):
    def __init__(self) -> None:
        super().__init__("The cursor is not one this service issued.")
