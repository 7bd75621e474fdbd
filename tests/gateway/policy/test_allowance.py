"""Allowances: absent constraint = no limit; within and clamp never widen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.policy.allowance import Allowance

SCOPES = ("chat:read", "chat:write", "chat:mark_read", "rides:read", "rides:book")
CHANNELS = ("design", "general", "random", "leadership")
KEYS = ("chat:channels", "rides:places")

constraints = st.dictionaries(st.sampled_from(KEYS),
                              st.frozensets(st.sampled_from(CHANNELS)), max_size=2)
allowances = st.builds(Allowance, st.frozensets(st.sampled_from(SCOPES)), constraints)


def test_adding_a_limit_narrows_and_lifting_one_widens() -> None:
    unlimited = Allowance.of("chat:read")
    limited = Allowance.of("chat:read", {"chat:channels": ["design"]})
    nothing = Allowance.of("chat:read", {"chat:channels": []})

    assert limited.within(unlimited)
    assert nothing.within(limited)
    assert not unlimited.within(limited)
    assert unlimited.widening_over(limited).constraints == ["chat:channels"]


def test_a_new_scope_or_channel_is_a_widening() -> None:
    granted = Allowance.of("chat:read", {"chat:channels": ["design"]})

    widening = Allowance.of("chat:read chat:write",
                            {"chat:channels": ["design", "general"]}).widening_over(granted)

    assert widening.scopes == ["chat:write"]
    assert widening.constraints == ["chat:channels"]


def test_scope_string_keeps_the_granted_order() -> None:
    allowance = Allowance.of("rides:read chat:read")

    assert allowance.scope_string(order="rides:read chat:write chat:read") == "rides:read chat:read"


@given(allowances)
def test_an_allowance_is_within_itself(a: Allowance) -> None:
    assert a.within(a)


@given(allowances, allowances)
def test_clamp_is_within_both(inner: Allowance, outer: Allowance) -> None:
    clamped = inner.clamp(outer)

    assert clamped.within(outer)
    assert clamped.within(inner)


@given(allowances, allowances, allowances)
def test_within_is_transitive(a: Allowance, b: Allowance, c: Allowance) -> None:
    if a.within(b) and b.within(c):
        assert a.within(c)


@given(allowances)
def test_stored_form_round_trips(a: Allowance) -> None:
    assert Allowance.of(a.scope_string(), a.constraint_lists()) == a
