"""Stripe's test cards and the checks a card form makes, for the simulated processor.

Each card behaves as Stripe documents it (https://docs.stripe.com/testing#cards), so a
demo or a test that picks a card gets the same answer it would get from Stripe in
test mode. Only these numbers are accepted: a real card number is refused, so
nobody types one into a demo.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.payments.processor import CardError


@dataclass(frozen=True)
class CardBehaviour:
    """What one of Stripe's test cards does (https://docs.stripe.com/testing#cards)."""

    brand: str
    # Refused when saved, with this decline code.
    setup_decline: str | None = None
    # Saved, but every charge is declined with this code ("attaching succeeds,
    # attempts to charge the customer fail").
    charge_decline: str | None = None
    # Saved, but every payment needs the person to authenticate (3D Secure required).
    requires_authentication: bool = False


TEST_CARDS: dict[str, CardBehaviour] = {
    "4242424242424242": CardBehaviour("visa"),
    "5555555555554444": CardBehaviour("mastercard"),
    "4000000000000002": CardBehaviour("visa", setup_decline="card_declined"),
    "4000000000009995": CardBehaviour("visa", setup_decline="insufficient_funds"),
    "4000000000000341": CardBehaviour("visa", charge_decline="card_declined"),
    "4000002760003184": CardBehaviour("visa", requires_authentication=True),
}

# Stripe's own wording for each decline (https://docs.stripe.com/declines/codes).
DECLINE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
}


def luhn_valid(number: str) -> bool:
    """The card number's check digit is right (ISO/IEC 7812-1, Annex B)."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def check_test_card(
    number: str, exp_month: int | None, exp_year: int | None, today: dt.date
) -> tuple[str, CardBehaviour, int, int]:
    """Validate a card as Stripe's card form would; return (digits, card, month, year)."""
    digits = "".join(number.split()).replace("-", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        raise CardError("Your card number is incorrect.", code="incorrect_number")
    card = TEST_CARDS.get(digits)
    if card is None:
        raise CardError(
            "The simulated processor accepts only Stripe's test cards "
            "(e.g. 4242 4242 4242 4242), never a real card.",
            code="invalid_number",
        )
    if exp_month is None or not 1 <= exp_month <= 12:
        raise CardError("Your card's expiration month is invalid.", code="invalid_expiry_month")
    if exp_year is not None and exp_year < 100:
        exp_year += 2000  # Stripe takes two-digit years too
    expired = exp_year is not None and (exp_year, exp_month) < (today.year, today.month)
    if exp_year is None or expired or exp_year > today.year + 50:
        raise CardError("Your card's expiration year is invalid.", code="invalid_expiry_year")
    return digits, card, exp_month, exp_year
