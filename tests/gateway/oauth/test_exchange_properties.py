"""Token exchange (RFC 8693) never widens anything: scopes, constraints, audience or expiry.

Hypothesis draws random parent allowances and random requests, including chains of
exchanges where each child becomes the next subject.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.oauth.exchange import (
    CHANNELS,
    MAX_CHAIN,
    Delegation,
    ExchangeRefused,
    ExchangeRequest,
    Subject,
    act_chain,
    chain_depth,
    delegate,
    parse_channels,
)
from gateway.policy.allowance import Allowance

SCOPES = ("chat:read", "chat:write", "chat:mark_read", "rides:read", "rides:book")
CHANNEL_IDS = ("design", "general", "random", "leadership")
AUDIENCES = ("https://gw.test/api", "https://gw.test/mcp")
NOW = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=5)

scope_sets = st.frozensets(st.sampled_from(SCOPES))
channel_sets = st.frozensets(st.sampled_from(CHANNEL_IDS))
allowances = st.builds(
    Allowance, scope_sets,
    st.dictionaries(st.sampled_from((CHANNELS, "rides:places")), channel_sets, max_size=2))
subjects = st.builds(
    Subject,
    allowance=allowances,
    audiences=st.lists(st.sampled_from(AUDIENCES), min_size=1, max_size=2, unique=True)
    .map(tuple),
    token_expires_at=st.integers(1, 600).map(lambda s: NOW + dt.timedelta(seconds=s)),
    grant_expires_at=st.none() | st.integers(1, 10**6).map(
        lambda s: NOW + dt.timedelta(seconds=s)),
    act=st.just({"sub": "agent:parent", "client_id": "parent"}),
)
requests = st.builds(
    ExchangeRequest,
    scope=st.none() | scope_sets.map(" ".join),
    channels=st.none() | channel_sets.map(sorted),
    resource=st.none() | st.sampled_from(AUDIENCES),
)


def _try(subject: Subject, request: ExchangeRequest) -> Delegation | None:
    try:
        return delegate(subject, request, now=NOW, token_ttl=TTL)
    except ExchangeRefused:
        return None


def _assert_never_wider(subject: Subject, child: Delegation) -> None:
    assert child.allowance.within(subject.allowance)
    assert child.resource in subject.audiences
    assert child.token_expires_at <= subject.token_expires_at
    if subject.grant_expires_at is not None:
        assert child.grant_expires_at is not None
        assert child.grant_expires_at <= subject.grant_expires_at


@given(subjects, requests)
def test_an_exchange_never_widens(subject: Subject, request: ExchangeRequest) -> None:
    child = _try(subject, request)

    if child is not None:
        _assert_never_wider(subject, child)


@given(subjects, st.lists(requests, min_size=1, max_size=6))
def test_a_chain_of_exchanges_never_widens(subject: Subject,
                                           chain: list[ExchangeRequest]) -> None:
    root = subject
    for request in chain:
        child = _try(subject, request)
        if child is None:
            continue
        _assert_never_wider(subject, child)
        _assert_never_wider(root, child)
        subject = Subject(child.allowance, (child.resource,), child.token_expires_at,
                          child.grant_expires_at, subject.act)


@given(subjects, requests)
def test_an_explicit_request_for_more_is_refused_not_trimmed(
        subject: Subject, request: ExchangeRequest) -> None:
    """Omitted parameters inherit; named ones are honoured exactly or refused."""
    child = _try(subject, request)

    if child is not None and request.scope is not None:
        assert child.allowance.scopes == frozenset(request.scope.split())
    if child is not None and request.channels is not None:
        assert child.allowance.constraints[CHANNELS] == frozenset(request.channels)


@given(subjects)
def test_omitting_everything_hands_on_the_same_allowance(subject: Subject) -> None:
    child = _try(subject, ExchangeRequest(resource=subject.audiences[0]))

    if subject.allowance.scopes:
        assert child is not None
        assert child.allowance == subject.allowance


def _subject(scope: str, channels: list[str] | None = None, *,
             expires_in: int = 300) -> Subject:
    constraints = {CHANNELS: channels} if channels is not None else {}
    return Subject(Allowance.of(scope, constraints), (AUDIENCES[0],),
                   NOW + dt.timedelta(seconds=expires_in), NOW + dt.timedelta(days=1), None)


def test_widening_scope_is_invalid_scope() -> None:
    with pytest.raises(ExchangeRefused) as refused:
        delegate(_subject("chat:read"), ExchangeRequest(scope="chat:read chat:write"),
                 now=NOW, token_ttl=TTL)

    assert refused.value.error == "invalid_scope"
    assert "chat:write" in refused.value.description


def test_a_channel_outside_the_parents_limit_is_invalid_scope() -> None:
    with pytest.raises(ExchangeRefused) as refused:
        delegate(_subject("chat:read", ["design"]),
                 ExchangeRequest(channels=["design", "general"]), now=NOW, token_ttl=TTL)

    assert refused.value.error == "invalid_scope"


def test_channels_may_limit_an_unlimited_parent() -> None:
    child = delegate(_subject("chat:read"), ExchangeRequest(channels=["design"]),
                     now=NOW, token_ttl=TTL)

    assert child.allowance.constraints == {CHANNELS: frozenset({"design"})}


def test_a_resource_outside_the_audience_is_invalid_target() -> None:
    with pytest.raises(ExchangeRefused) as refused:
        delegate(_subject("chat:read"), ExchangeRequest(resource="https://evil.test/api"),
                 now=NOW, token_ttl=TTL)

    assert refused.value.error == "invalid_target"


def test_an_expired_subject_is_invalid_grant() -> None:
    with pytest.raises(ExchangeRefused) as refused:
        delegate(_subject("chat:read", expires_in=-1), ExchangeRequest(), now=NOW,
                 token_ttl=TTL)

    assert refused.value.error == "invalid_grant"


def test_the_client_ceiling_trims_an_omitted_scope_and_refuses_a_named_one() -> None:
    subject = _subject("chat:read chat:write")
    ceiling = Allowance.of("chat:read")

    child = delegate(subject, ExchangeRequest(), now=NOW, token_ttl=TTL, client_ceiling=ceiling)
    assert child.allowance.scopes == {"chat:read"}
    with pytest.raises(ExchangeRefused):
        delegate(subject, ExchangeRequest(scope="chat:write"), now=NOW, token_ttl=TTL,
                 client_ceiling=ceiling)


def test_the_token_lives_no_longer_than_the_subject_or_the_ttl() -> None:
    assert delegate(_subject("chat:read", expires_in=60), ExchangeRequest(), now=NOW,
                    token_ttl=TTL).token_expires_at == NOW + dt.timedelta(seconds=60)
    assert delegate(_subject("chat:read", expires_in=3600), ExchangeRequest(), now=NOW,
                    token_ttl=TTL).token_expires_at == NOW + TTL


def test_act_nests_the_current_actor_outermost() -> None:
    parent = {"sub": "agent:p", "client_id": "p"}

    act = act_chain("agent:c", "c", parent)

    assert act == {"sub": "agent:c", "client_id": "c", "act": parent}
    assert chain_depth(act) == 2


def test_a_chain_deeper_than_the_limit_is_refused() -> None:
    act = None
    for i in range(MAX_CHAIN):
        act = act_chain(f"agent:{i}", str(i), act)

    with pytest.raises(ExchangeRefused):
        act_chain("agent:x", "x", act)


def test_channels_parameter_accepts_spaces_and_commas() -> None:
    assert parse_channels("a, b c") == ["a", "b", "c"]
    assert parse_channels(None) is None
    assert parse_channels("") == []
