"""The mode decision: who calls, what they prefer, and what the operation declares."""

from __future__ import annotations

import uuid

import pytest

from gateway.effects.mode import Decision, EffectScopeMissing, decide
from gateway.effects.prefer import parse_prefer
from gateway.policy.manifest import Operation
from gateway.principal import Principal
from services.common.txn_token import Actor

LIST_MESSAGES = Operation(
    "chat", "GET", "/channels/{id}/messages", "list_messages", "", frozenset({"chat:read"}),
    effects={"writes": [], "on_read": ["read_position", "read_receipt"],
             "effect_scope": "chat:mark_read"})
LIST_TRIPS = Operation("rides", "GET", "/trips", "list_trips", "", frozenset({"rides:read"}),
                       effects={"writes": [], "on_read": []})
POST_MESSAGE = Operation("chat", "POST", "/channels/{id}/messages", "post_message", "",
                         frozenset({"chat:write"}), effects={"writes": ["messages"]})


def principal(*scopes: str, agent: bool) -> Principal:
    return Principal(uuid.uuid4(), "alice", "Alice", frozenset(scopes),
                     via="token" if agent else "session",
                     actors=(Actor(sub="agent:1", name="Assistant"),) if agent else ())


PERSON = principal("chat:read", "chat:write", "chat:mark_read", agent=False)
AGENT = principal("chat:read", "chat:write", "rides:read", agent=True)
TRUSTED_AGENT = principal("chat:read", "chat:mark_read", agent=True)


@pytest.mark.parametrize(("who", "operation", "prefer", "expected"), [
    (PERSON, LIST_MESSAGES, "", Decision("live")),
    (PERSON, LIST_MESSAGES, "peek", Decision("peek", "peek")),
    (PERSON, LIST_MESSAGES, "effects=live", Decision("live", "effects=live")),
    (AGENT, LIST_MESSAGES, "", Decision("peek", "peek")),
    (AGENT, LIST_MESSAGES, "dry-run", Decision("peek", "peek")),
    (TRUSTED_AGENT, LIST_MESSAGES, "", Decision("peek", "peek")),
    (TRUSTED_AGENT, LIST_MESSAGES, 'Effects="LIVE"', Decision("live", "effects=live")),
    (TRUSTED_AGENT, LIST_MESSAGES, "effects=live, peek", Decision("peek", "peek")),
    (AGENT, LIST_TRIPS, "effects=live", Decision("live", "effects=live")),
    (AGENT, POST_MESSAGE, "", Decision("live")),
    (AGENT, POST_MESSAGE, "peek", Decision("live")),
    (AGENT, POST_MESSAGE, "respond-async, dry-run", Decision("dry-run", "dry-run")),
    (PERSON, POST_MESSAGE, "dry-run", Decision("dry-run", "dry-run")),
])
def test_the_mode_follows_the_brief(who: Principal, operation: Operation, prefer: str,
                                    expected: Decision) -> None:
    assert decide(who, operation, parse_prefer([prefer])) == expected


def test_an_agent_without_the_effect_scope_may_not_read_live() -> None:
    with pytest.raises(EffectScopeMissing) as refused:
        decide(AGENT, LIST_MESSAGES, parse_prefer(["effects=live"]))

    assert refused.value.missing == ["chat:mark_read"]
