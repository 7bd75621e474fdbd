"""The mandate as a value: what parses (and why not), what is a share, and clamping.

Hypothesis draws random mandates to check the invariants the delegation and the
narrowing code rest on: a mandate is within itself, and clamping always lands
within the outer mandate (and never above what it clamped).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.payments.mandates import (
    MANDATE_TYPE,
    Budget,
    InvalidMandate,
    Mandate,
    mandate_of,
    parse_authorization_details,
    parse_money,
)

SERVICES = ("rides", "chat", "shop")
NOW = dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC)  # a Wednesday


def detail(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": MANDATE_TYPE,
        "currency": "EUR",
        "max_per_payment": 5000,
        "budget": {"amount": 10000, "period": "week"},
        "approval_threshold": 3000,
        "services": ["rides"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_a_full_mandate_reads_and_writes_back_the_same() -> None:
    raw = detail(expires_at="2026-12-31T00:00:00Z")

    mandate = Mandate.from_detail(raw, known_services=SERVICES)

    assert mandate.budget == Budget(10000, "week")
    assert mandate.expires_at == dt.datetime(2026, 12, 31, tzinfo=dt.UTC)
    assert mandate.to_detail() == raw


def test_the_consent_words_say_every_limit() -> None:
    mandate = Mandate.from_detail(detail(expires_at="2026-12-31T00:00:00Z"))

    assert mandate.describe() == [
        "Pay rides up to 50.00 EUR per payment",
        "At most 100.00 EUR per week in all",
        "Ask you first above 30.00 EUR",
        "Until 31 Dec 2026, 00:00 UTC",
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (detail(type="payment"), "type must be 'payment_mandate'"),
        (detail(limit=5), "unknown fields: limit"),
        (detail(currency="XXX"), "currency must be one of"),
        (detail(services=[]), "services must list"),
        (detail(services=["casino"]), "no such service: casino"),
        (detail(max_per_payment="50"), "max_per_payment must be an integer"),
        (detail(max_per_payment=True), "max_per_payment must be an integer"),
        (detail(max_per_payment=0), "max_per_payment must be between 1"),
        (detail(budget={"amount": 100}), "budget must be"),
        (detail(budget={"amount": 100, "period": "year"}), "budget period must be day"),
        (detail(budget={"amount": 100, "period": "week"}), "can't be more than the budget"),
        (detail(approval_threshold=-1), "approval_threshold must be between 0"),
        (detail(expires_at="soon"), "expires_at must be an ISO 8601"),
        (detail(expires_at="2026-12-31T00:00:00"), "must say its time zone"),
    ],
)
def test_each_invalid_detail_says_why(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidMandate, match=reason):
        Mandate.from_detail(raw, known_services=SERVICES)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "must be a JSON array"),
        ('{"type": "payment_mandate"}', "JSON array of objects"),
        ("[1]", "JSON array of objects"),
        ('[{"type": "account_information"}]', "unknown authorization details type"),
        (json.dumps([detail(), detail()]), "ask for one payment_mandate"),
        (json.dumps([detail(services=["casino"])]), "no such service"),
    ],
)
def test_the_request_parameter_refuses_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidMandate, match=reason):
        parse_authorization_details(raw, known_services=SERVICES)


def test_no_parameter_is_no_details() -> None:
    assert parse_authorization_details(None, known_services=SERVICES) == []
    assert parse_authorization_details("  ", known_services=SERVICES) == []


def test_the_parameter_is_normalised() -> None:
    raw = json.dumps([detail(currency="eur", services=["rides", "chat", "rides"])])

    (parsed,) = parse_authorization_details(raw, known_services=SERVICES)

    assert parsed["currency"] == "EUR"
    assert parsed["services"] == ["chat", "rides"]


def test_a_stored_detail_that_no_longer_parses_gives_no_mandate() -> None:
    assert mandate_of([detail(max_per_payment=-5)]) is None
    assert mandate_of([]) is None
    assert mandate_of([detail()]) == Mandate.from_detail(detail())


def test_a_share_names_every_way_it_is_wider() -> None:
    parent = Mandate.from_detail(detail(expires_at="2026-12-31T00:00:00Z"))
    wider = Mandate.from_detail(
        detail(
            currency="USD",
            max_per_payment=6000,
            services=["rides", "shop"],
            approval_threshold=None,
            budget={"amount": 20000, "period": "week"},
        )
    )

    assert wider.widening_over(parent) == [
        "currency",
        "max_per_payment",
        "services",
        "budget",
        "approval_threshold",
        "expires_at",
    ]


@pytest.mark.parametrize(
    ("share", "outer", "within"),
    [
        (Budget(100, "week"), Budget(100, "week"), True),
        (Budget(101, "week"), Budget(100, "week"), False),
        # A day budget can be spent on each of a week's seven days.
        (Budget(100, "day"), Budget(700, "week"), True),
        (Budget(100, "day"), Budget(699, "week"), False),
        # A week never leaves its day... but a week can straddle two months.
        (Budget(100, "week"), Budget(100, "day"), True),
        (Budget(100, "month"), Budget(199, "week"), False),
        (Budget(100, "month"), Budget(200, "week"), True),
    ],
)
def test_budgets_compare_over_every_window(share: Budget, outer: Budget, within: bool) -> None:
    assert share.within(outer) is within


def test_budget_windows_are_calendar_periods_in_utc() -> None:
    assert Budget(1, "day").window(NOW) == (
        dt.datetime(2026, 3, 4, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
    )
    assert Budget(1, "week").window(NOW) == (
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 9, tzinfo=dt.UTC),
    )
    assert Budget(1, "month").window(NOW) == (
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    )


def test_clamping_to_a_parent_without_the_service_pays_nothing() -> None:
    child = Mandate.from_detail(detail(services=["shop"]))
    parent = Mandate.from_detail(detail(services=["rides"]))

    assert child.clamp(parent).pays_nothing()
    assert not child.pays_nothing()


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12,5", "EUR", 1250),
        ("12", "EUR", 1200),
        ("300", "JPY", 300),
    ],
)
def test_typed_amounts_become_minor_units(typed: str, currency: str, minor: int) -> None:
    assert parse_money(typed, currency) == minor


@pytest.mark.parametrize("typed", ["", "-5", "1e3", "nan", "12.345", "1 000"])
def test_typed_amounts_that_are_not_amounts_are_refused(typed: str) -> None:
    with pytest.raises(InvalidMandate):
        parse_money(typed, "EUR")


# -- properties ---------------------------------------------------------------------------

amounts = st.integers(1, 100_000)
budgets = st.builds(Budget, amounts, st.sampled_from(("day", "week", "month")))
expiries = st.none() | st.integers(0, 400).map(lambda d: NOW + dt.timedelta(days=d))


@st.composite
def mandates(draw: st.DrawFn) -> Mandate:
    budget = draw(st.none() | budgets)
    most = budget.amount if budget else 100_000
    return Mandate(
        currency="EUR",
        max_per_payment=draw(st.integers(1, most)),
        services=draw(st.frozensets(st.sampled_from(SERVICES), min_size=1)),
        budget=budget,
        approval_threshold=draw(st.none() | st.integers(0, 100_000)),
        expires_at=draw(expiries),
    )


@given(mandates())
def test_a_mandate_is_within_itself(mandate: Mandate) -> None:
    assert mandate.within(mandate)
    assert mandate.clamp(mandate) == mandate


@given(mandates(), mandates())
def test_a_clamped_mandate_is_within_the_outer_and_the_original(
    share: Mandate, outer: Mandate
) -> None:
    clamped = share.clamp(outer)

    assert clamped.within(outer)
    assert clamped.within(share)
    if share.within(outer):
        assert clamped == share


@given(mandates(), mandates())
def test_a_clamped_mandate_that_can_pay_is_a_valid_detail(share: Mandate, outer: Mandate) -> None:
    clamped = share.clamp(outer)
    if not clamped.pays_nothing():
        assert Mandate.from_detail(clamped.to_detail()) == clamped
