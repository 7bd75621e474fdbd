"""A spending mandate: what a person lets an agent pay, as an RFC 9396 authorization detail.

An agent asks for a mandate in its authorization request (``authorization_details``,
RFC 9396 section 2) with one entry of type ``payment_mandate``; the person sees it in
plain words on the consent page, and the grant keeps it. Amounts are integers in the
currency's minor unit (cents), as the ledger and Stripe count them::

    {"type": "payment_mandate",
     "currency": "EUR",
     "max_per_payment": 5000,                        # no single payment above 50.00
     "budget": {"amount": 10000, "period": "week"},  # at most 100.00 per calendar week
     "approval_threshold": 3000,                     # above 30.00 the person approves first
     "services": ["rides"],                          # which services it may pay
     "expires_at": "2026-12-31T00:00:00Z"}           # optional

Budget periods are calendar periods in UTC (a day from midnight, a week from
Monday, a month from the 1st), so "what is left this week" means the same thing on
the Payments page as in the budget check. A sub-agent's mandate must be
:meth:`Mandate.within` its parent's; payments count against every mandate up the
chain of grants, so a share can never spend more than what it was cut from.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

MANDATE_TYPE = "payment_mandate"
Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
# For comparing shares across periods: at most how many calendar windows of the first
# period one window of the second can touch. A day budget of 100 can spend 700 in a
# week; a week can straddle two months; a month touches at most six weeks.
WINDOWS_TOUCHED: dict[tuple[Period, Period], int] = {
    ("day", "day"): 1, ("day", "week"): 7, ("day", "month"): 31,
    ("week", "day"): 1, ("week", "week"): 1, ("week", "month"): 6,
    ("month", "day"): 1, ("month", "week"): 2, ("month", "month"): 1,
}
# Minor-unit exponents that are not 2 (ISO 4217); every currency we accept is listed.
CURRENCIES = {"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "JPY": 0}
MAX_AMOUNT = 10_000_000  # 100 000.00: a ceiling against typos, not a policy
# An amount as a person types it in a form: digits, then a point or comma and decimals.
_TYPED_AMOUNT = re.compile(r"(\d{1,9})(?:[.,](\d{0,3}))?")


class InvalidMandate(ValueError):
    """An authorization detail of type payment_mandate that can't be accepted, and why."""


@dataclass(frozen=True)
class Budget:
    amount: int
    period: Period

    def window(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The calendar period (UTC) that contains ``now``: [start, end)."""
        day = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "day":
            return day, day + dt.timedelta(days=1)
        if self.period == "week":
            start = day - dt.timedelta(days=day.weekday())
            return start, start + dt.timedelta(days=7)
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        return start, end

    def within(self, outer: Budget) -> bool:
        """Whether this budget can never spend more than ``outer`` in any of its windows."""
        return self.amount * WINDOWS_TOUCHED[self.period, outer.period] <= outer.amount

    def clamp(self, outer: Budget) -> Budget:
        """This budget, its amount lowered (period kept) until it is within ``outer``."""
        most = outer.amount // WINDOWS_TOUCHED[self.period, outer.period]
        return self if self.amount <= most else Budget(most, self.period)


@dataclass(frozen=True)
class Mandate:
    currency: str
    max_per_payment: int
    services: frozenset[str]
    budget: Budget | None = None
    # Payments above this need the person's approval; None: never asks.
    approval_threshold: int | None = None
    expires_at: dt.datetime | None = None

    # -- reading and writing the RFC 9396 form ------------------------------------------

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any], *,
                    known_services: Iterable[str] | None = None) -> Mandate:
        """Validate one ``payment_mandate`` authorization detail; InvalidMandate says why."""
        if detail.get("type") != MANDATE_TYPE:
            raise InvalidMandate(f"type must be {MANDATE_TYPE!r}")
        unknown = set(detail) - {"type", "currency", "max_per_payment", "budget",
                                 "approval_threshold", "services", "expires_at"}
        if unknown:
            raise InvalidMandate(f"unknown fields: {', '.join(sorted(unknown))}")
        currency = detail.get("currency")
        if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
            raise InvalidMandate(f"currency must be one of {', '.join(sorted(CURRENCIES))}")
        services = detail.get("services")
        if (not isinstance(services, list) or not services
                or not all(isinstance(s, str) and s for s in services)):
            raise InvalidMandate("services must list the services it may pay")
        if known_services is not None:
            strangers = set(services) - set(known_services)
            if strangers:
                raise InvalidMandate(f"no such service: {', '.join(sorted(strangers))}")
        budget = detail.get("budget")
        parsed_budget = None
        if budget is not None:
            if not isinstance(budget, dict) or set(budget) != {"amount", "period"}:
                raise InvalidMandate("budget must be {\"amount\": ..., \"period\": ...}")
            if budget["period"] not in PERIODS:
                raise InvalidMandate("budget period must be day, week or month")
            parsed_budget = Budget(_amount(budget["amount"], "budget amount"), budget["period"])
        threshold = detail.get("approval_threshold")
        expires_at = detail.get("expires_at")
        parsed_expiry = None
        if expires_at is not None:
            try:
                parsed_expiry = dt.datetime.fromisoformat(str(expires_at))
            except ValueError as exc:
                raise InvalidMandate("expires_at must be an ISO 8601 date and time") from exc
            if parsed_expiry.tzinfo is None:
                raise InvalidMandate("expires_at must say its time zone (e.g. Z)")
        mandate = cls(
            currency=currency.upper(),
            max_per_payment=_amount(detail.get("max_per_payment"), "max_per_payment"),
            services=frozenset(services),
            budget=parsed_budget,
            approval_threshold=(None if threshold is None
                                else _amount(threshold, "approval_threshold", zero=True)),
            expires_at=parsed_expiry.astimezone(dt.UTC) if parsed_expiry else None,
        )
        if mandate.budget and mandate.budget.amount < mandate.max_per_payment:
            raise InvalidMandate("max_per_payment can't be more than the budget")
        return mandate

    def to_detail(self) -> dict[str, Any]:
        """The RFC 9396 form, as stored on the grant and returned in token responses."""
        detail: dict[str, Any] = {"type": MANDATE_TYPE, "currency": self.currency,
                                  "max_per_payment": self.max_per_payment,
                                  "services": sorted(self.services)}
        if self.budget:
            detail["budget"] = {"amount": self.budget.amount, "period": self.budget.period}
        if self.approval_threshold is not None:
            detail["approval_threshold"] = self.approval_threshold
        if self.expires_at:
            detail["expires_at"] = self.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return detail

    # -- comparing ------------------------------------------------------------------------

    def widening_over(self, outer: Mandate) -> list[str]:
        """What this mandate allows that ``outer`` doesn't (empty: it is a share of it)."""
        wider: list[str] = []
        if self.currency != outer.currency:
            wider.append("currency")
        if self.max_per_payment > outer.max_per_payment:
            wider.append("max_per_payment")
        if not self.services <= outer.services:
            wider.append("services")
        if outer.budget and (self.budget is None or not self.budget.within(outer.budget)):
            wider.append("budget")
        if outer.approval_threshold is not None and (
                self.approval_threshold is None
                or self.approval_threshold > outer.approval_threshold):
            wider.append("approval_threshold")
        if outer.expires_at and (self.expires_at is None or self.expires_at > outer.expires_at):
            wider.append("expires_at")
        return wider

    def within(self, outer: Mandate) -> bool:
        return not self.widening_over(outer)

    def clamp(self, outer: Mandate) -> Mandate:
        """The most of this that stays within ``outer`` (used when a parent narrows)."""
        budget = self.budget
        if outer.budget:
            budget = outer.budget if budget is None else budget.clamp(outer.budget)
        threshold = self.approval_threshold
        if outer.approval_threshold is not None:
            threshold = (outer.approval_threshold if threshold is None
                         else min(threshold, outer.approval_threshold))
        expires = self.expires_at
        if outer.expires_at:
            expires = outer.expires_at if expires is None else min(expires, outer.expires_at)
        most = min(self.max_per_payment, outer.max_per_payment)
        return replace(self, currency=outer.currency,
                       # A payment can't be larger than the budget it comes out of.
                       max_per_payment=min(most, budget.amount) if budget else most,
                       services=self.services & outer.services, budget=budget,
                       approval_threshold=threshold, expires_at=expires)

    def pays_nothing(self) -> bool:
        """Whether nothing can be paid under it (a share clamped down to no service or 0)."""
        return (not self.services or self.max_per_payment < 1
                or (self.budget is not None and self.budget.amount < 1))

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def needs_approval(self, amount: int) -> bool:
        return self.approval_threshold is not None and amount > self.approval_threshold

    # -- saying it in plain words -----------------------------------------------------------

    def describe(self) -> list[str]:
        """The mandate as sentences for the consent and Connected agents pages."""
        lines = [f"Pay {', '.join(sorted(self.services))} up to "
                 f"{money(self.max_per_payment, self.currency)} per payment"]
        if self.budget:
            lines.append(f"At most {money(self.budget.amount, self.currency)} per "
                         f"{self.budget.period} in all")
        if self.approval_threshold is not None:
            lines.append(f"Ask you first above {money(self.approval_threshold, self.currency)}")
        else:
            lines.append("Never asks you first within these limits")
        if self.expires_at:
            lines.append(f"Until {self.expires_at:%d %b %Y, %H:%M} UTC")
        return lines


def _amount(value: Any, name: str, *, zero: bool = False) -> int:
    # bool is an int in Python; True is not an amount.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidMandate(f"{name} must be an integer amount in minor units (cents)")
    if value < (0 if zero else 1) or value > MAX_AMOUNT:
        raise InvalidMandate(f"{name} must be between {0 if zero else 1} and {MAX_AMOUNT}")
    return value


def money(amount: int, currency: str) -> str:
    """``1250, "EUR"`` -> ``"12.50 EUR"`` (the currency's own number of decimals)."""
    exponent = CURRENCIES.get(currency.upper(), 2)
    if exponent == 0:
        return f"{amount} {currency}"
    return f"{amount / 10**exponent:.{exponent}f} {currency}"


def parse_money(text: str, currency: str) -> int:
    """What a person typed (``"12.5"``, ``"12,50"``) in minor units; InvalidMandate says why."""
    exponent = CURRENCIES.get(currency.upper(), 2)
    match = _TYPED_AMOUNT.fullmatch(text.strip())
    if match is None:
        raise InvalidMandate(f"{text.strip()!r} is not an amount")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > exponent:
        raise InvalidMandate(f"{text.strip()!r}: {currency} has {exponent} decimals at most")
    return int(whole + fraction.ljust(exponent, "0"))


def mandate_of(details: Sequence[Mapping[str, Any]] | None) -> Mandate | None:
    """The grant's mandate, from its stored authorization details (None: it may not pay).

    Stored details were validated when granted; one that no longer parses (an older
    format) gives no mandate rather than a wider one.
    """
    for detail in details or ():
        if detail.get("type") == MANDATE_TYPE:
            try:
                return Mandate.from_detail(detail)
            except InvalidMandate:
                return None
    return None


def parse_authorization_details(raw: str | None, *,
                                known_services: Iterable[str]) -> list[dict[str, Any]]:
    """Parse the ``authorization_details`` request parameter (RFC 9396 section 2).

    Returns the normalised details (only payment_mandate is known here, at most one);
    raises InvalidMandate, which the OAuth layer answers as ``invalid_authorization_details``
    (section 5).
    """
    if raw is None or not raw.strip():
        return []
    try:
        details = json.loads(raw)
    except ValueError as exc:
        raise InvalidMandate("authorization_details must be a JSON array") from exc
    if not isinstance(details, list) or not all(isinstance(d, dict) for d in details):
        raise InvalidMandate("authorization_details must be a JSON array of objects")
    services = list(known_services)
    mandates = [Mandate.from_detail(d, known_services=services) for d in details
                if d.get("type") == MANDATE_TYPE]
    unknown = sorted({str(d.get("type")) for d in details if d.get("type") != MANDATE_TYPE})
    if unknown:
        raise InvalidMandate(f"unknown authorization details type: {', '.join(unknown)}")
    if len(mandates) > 1:
        raise InvalidMandate("ask for one payment_mandate")
    return [m.to_detail() for m in mandates]
