"""A person's grants: listed as agent trees, narrowed only, revoked with everything below."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity import grants
from gateway.identity.models import Grant, Revocation, User
from gateway.policy.allowance import Allowance
from services.common.db import make_engine, make_sessionmaker, utcnow
from services.common.problems import Problem
from tests.support.agents import (
    make_agent,
    make_grant,
    make_person,
    make_refresh_token,
    make_sub_grant,
)

DESIGN, GENERAL, RANDOM = (str(uuid.uuid4()) for _ in range(3))
CHANNELS = "chat:channels"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
async def alice(db: AsyncSession) -> User:
    return await make_person(db, "alice")


@pytest.fixture
async def bob(db: AsyncSession) -> User:
    return await make_person(db, "bob")


async def revocations(db: AsyncSession, grant: Grant) -> list[int]:
    """The min_version of each revocation row of a grant, oldest first."""
    return list((await db.scalars(select(Revocation.min_version).where(
        Revocation.kind == "grant", Revocation.value == str(grant.id))
        .order_by(Revocation.id))).all())


async def test_list_shows_each_agent_with_its_sub_agents_and_api_tokens(
        db: AsyncSession, alice: User, bob: User) -> None:
    planner, helper = await make_agent(db, "Trip Planner"), await make_agent(db, "Helper")
    parent = await make_grant(db, alice, planner)
    child = await make_sub_grant(db, parent, helper, scope="chat:read")
    token = await make_grant(db, alice, None, label="laptop script")
    await make_grant(db, bob, planner)

    roots = await grants.list_grants(db, alice.id)

    assert [(r.grant.id, r.agent.name if r.agent else None) for r in roots] == [
        (parent.id, "Trip Planner"), (token.id, None)]
    [sub] = roots[0].children
    assert (sub.grant.id, sub.agent and sub.agent.name) == (child.id, "Helper")
    assert [n.grant.id for n in roots[0].walk()] == [parent.id, child.id]


async def test_list_leaves_out_revoked_and_expired_grants(db: AsyncSession, alice: User) -> None:
    agent = await make_agent(db)
    await make_grant(db, alice, agent, expires_at=utcnow() - dt.timedelta(minutes=1))
    revoked = await make_grant(db, alice, agent)
    await grants.revoke_grant(db, alice.id, revoked.id)
    live = await make_grant(db, alice, agent, expires_at=utcnow() + dt.timedelta(days=1))

    assert [r.grant.id for r in await grants.list_grants(db, alice.id)] == [live.id]


async def test_list_names_the_person_who_registered_an_agent(db: AsyncSession,
                                                             alice: User) -> None:
    await make_grant(db, alice, await make_agent(db, "My bot", publisher="", owner=alice))

    [root] = await grants.list_grants(db, alice.id)

    assert root.owner is not None
    assert root.owner.id == alice.id


async def test_narrowing_shrinks_bumps_version_and_stops_older_tokens(
        db: AsyncSession, alice: User) -> None:
    grant = await make_grant(db, alice, await make_agent(db), scope="chat:read rides:read",
                             constraints={CHANNELS: [DESIGN, GENERAL]})
    refresh = await make_refresh_token(db, grant)

    narrowed = await grants.narrow_grant(db, alice.id, grant.id, scopes=["chat:read"],
                                         constraints={CHANNELS: [DESIGN]})

    assert (narrowed.scope, narrowed.constraints, narrowed.version) == (
        "chat:read", {CHANNELS: [DESIGN]}, 2)
    assert await revocations(db, grant) == [2]
    assert refresh.scope == "chat:read"
    assert refresh.revoked_at is None


async def test_narrowing_an_unlimited_grant_to_some_channels(db: AsyncSession,
                                                             alice: User) -> None:
    grant = await make_grant(db, alice, await make_agent(db), scope="chat:read")

    await grants.narrow_grant(db, alice.id, grant.id, scopes=["chat:read"],
                              constraints={CHANNELS: [GENERAL]})

    assert grant.constraints == {CHANNELS: [GENERAL]}


@pytest.mark.parametrize(("scopes", "constraints", "widened"), [
    (["chat:read", "chat:write"], {CHANNELS: [DESIGN]}, {"widened_scopes": ["chat:write"]}),
    (["chat:read"], {}, {"widened_constraints": [CHANNELS]}),
    (["chat:read"], {CHANNELS: [DESIGN, RANDOM]}, {"widened_constraints": [CHANNELS]}),
])
async def test_widening_is_refused_and_changes_nothing(
        db: AsyncSession, alice: User, scopes: list[str], constraints: dict[str, list[str]],
        widened: dict[str, list[str]]) -> None:
    grant = await make_grant(db, alice, await make_agent(db), scope="chat:read",
                             constraints={CHANNELS: [DESIGN]})

    with pytest.raises(Problem) as refused:
        await grants.narrow_grant(db, alice.id, grant.id, scopes=scopes, constraints=constraints)

    assert refused.value.status == 403
    assert refused.value.slug == "widening-refused"
    assert widened.items() <= refused.value.extra.items()
    await db.refresh(grant)
    assert (grant.scope, grant.constraints, grant.version) == (
        "chat:read", {CHANNELS: [DESIGN]}, 1)
    assert await revocations(db, grant) == []


async def test_narrowing_to_nothing_is_refused(db: AsyncSession, alice: User) -> None:
    grant = await make_grant(db, alice, await make_agent(db))

    with pytest.raises(Problem) as refused:
        await grants.narrow_grant(db, alice.id, grant.id, scopes=[], constraints={})

    assert refused.value.status == 422


async def test_an_unchanged_proposal_writes_nothing(db: AsyncSession, alice: User) -> None:
    grant = await make_grant(db, alice, await make_agent(db), constraints={CHANNELS: [DESIGN]})

    await grants.narrow_grant(db, alice.id, grant.id, scopes=grant.scope.split(),
                              constraints={CHANNELS: [DESIGN]})

    assert grant.version == 1
    assert await revocations(db, grant) == []


async def test_sub_agents_are_narrowed_to_stay_within(db: AsyncSession, alice: User) -> None:
    parent = await make_grant(db, alice, await make_agent(db), scope="chat:read rides:read")
    child = await make_sub_grant(db, parent, await make_agent(db, "Helper"))
    grandchild = await make_sub_grant(db, child, await make_agent(db, "Sub-helper"),
                                      scope="rides:read")
    untouched = await make_sub_grant(db, parent, await make_agent(db, "Reader"),
                                     scope="chat:read", constraints={CHANNELS: [DESIGN]})

    await grants.narrow_grant(db, alice.id, parent.id, scopes=["chat:read"],
                              constraints={CHANNELS: [DESIGN, GENERAL]})

    assert (child.scope, child.constraints, child.version) == (
        "chat:read", {CHANNELS: sorted([DESIGN, GENERAL])}, 2)
    assert await revocations(db, child) == [2]
    # Left with no scope at all, the grandchild could do nothing: it is revoked.
    assert grandchild.revoked_at is not None
    assert await revocations(db, grandchild) == [0]
    assert (untouched.version, await revocations(db, untouched)) == (1, [])


async def test_revoking_stops_the_whole_subtree_and_its_refresh_tokens(
        db: AsyncSession, alice: User) -> None:
    agent = await make_agent(db)
    parent = await make_grant(db, alice, agent)
    child = await make_sub_grant(db, parent, await make_agent(db, "Helper"))
    grandchild = await make_sub_grant(db, child, await make_agent(db, "Sub-helper"))
    sibling = await make_grant(db, alice, agent)
    tokens = [await make_refresh_token(db, g) for g in (parent, child, sibling)]

    revoked = await grants.revoke_grant(db, alice.id, parent.id)

    assert {g.id for g in revoked} == {parent.id, child.id, grandchild.id}
    for grant in (parent, child, grandchild):
        assert grant.revoked_at is not None
        assert await revocations(db, grant) == [0]
    for token in tokens:
        await db.refresh(token)
    assert [t.revoked_at is not None for t in tokens] == [True, True, False]
    assert sibling.revoked_at is None
    assert await grants.list_grants(db, alice.id) != []


async def test_revoking_twice_changes_nothing_more(db: AsyncSession, alice: User) -> None:
    grant = await make_grant(db, alice, await make_agent(db))
    await grants.revoke_grant(db, alice.id, grant.id)

    assert await grants.revoke_grant(db, alice.id, grant.id) == []
    assert await revocations(db, grant) == [0]


async def test_another_persons_grant_is_not_found(db: AsyncSession, alice: User,
                                                  bob: User) -> None:
    bobs = await make_grant(db, bob, await make_agent(db))

    for attempt in (grants.get_grant(db, alice.id, bobs.id),
                    grants.revoke_grant(db, alice.id, bobs.id),
                    grants.narrow_grant(db, alice.id, bobs.id, scopes=["chat:read"],
                                        constraints={})):
        with pytest.raises(Problem) as refused:
            await attempt
        assert refused.value.status == 404
    assert bobs.revoked_at is None
    assert bobs.version == 1


# --- property: narrowing never widens anything ------------------------------------------

SCOPES = ("chat:read", "chat:write", "chat:mark_read", "rides:read")
scope_sets = st.frozensets(st.sampled_from(SCOPES))
channel_limits = st.one_of(st.none(), st.frozensets(st.sampled_from((DESIGN, GENERAL, RANDOM))))


def stored(scopes: frozenset[str], channels: frozenset[str] | None) -> dict[str, Any]:
    return {"scope": " ".join(sorted(scopes)),
            "constraints": {} if channels is None else {CHANNELS: sorted(channels)}}


@settings(max_examples=40, deadline=None,
          # The session is shared on purpose: each example makes its own rows in it.
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parent_scopes=scope_sets.filter(bool), parent_channels=channel_limits,
       child_scopes=scope_sets.filter(bool), child_channels=channel_limits,
       new_scopes=scope_sets, new_channels=channel_limits)
async def test_narrowing_never_widens_anything(
        db: AsyncSession, alice: User, parent_scopes: frozenset[str],
        parent_channels: frozenset[str] | None, child_scopes: frozenset[str],
        child_channels: frozenset[str] | None, new_scopes: frozenset[str],
        new_channels: frozenset[str] | None) -> None:
    parent = await make_grant(db, alice, await make_agent(db),
                              **stored(parent_scopes, parent_channels))
    before = Allowance.of(parent.scope, parent.constraints)
    # A sub-agent grant is within its parent when made (token exchange sees to that).
    child_allows = Allowance.of(child_scopes, stored(child_scopes, child_channels)[
        "constraints"]).clamp(before)
    if not child_allows.scopes:
        child_allows = before
    child = await make_sub_grant(db, parent, await make_agent(db, "Helper"),
                                 scope=child_allows.scope_string(),
                                 constraints=child_allows.constraint_lists())
    child_before = Allowance.of(child.scope, child.constraints)
    proposal = stored(new_scopes, new_channels)

    refused: Problem | None = None
    try:
        await grants.narrow_grant(db, alice.id, parent.id, scopes=new_scopes,
                                  constraints=proposal["constraints"])
    except Problem as problem:
        refused = problem
    if refused is not None:
        assert refused.status in (403, 422)
        assert Allowance.of(parent.scope, parent.constraints) == before
        assert parent.version == 1
        return
    after = Allowance.of(parent.scope, parent.constraints)
    assert after.within(before)
    assert after == Allowance.of(new_scopes, proposal["constraints"])
    assert parent.version == (1 if after == before else 2)
    if child.revoked_at is None:
        child_after = Allowance.of(child.scope, child.constraints)
        assert child_after.within(after)
        assert child_after.within(child_before)


# -- consent: one connection per person, agent and resource -----------------------------

API, MCP = "https://gw.example/api", "https://gw.example/mcp"


async def test_a_second_consent_keeps_the_grant_and_brings_its_sub_agents_within(
        db: AsyncSession, alice: User) -> None:
    agent = await make_agent(db)
    first = await grants.record_consent(db, alice.id, agent.id, scopes=["chat:read", "rides:read"],
                                        constraints={}, resource=API, details=[])
    child = await make_sub_grant(db, first, await make_agent(db, "Helper"), scope="rides:read")
    reader = await make_sub_grant(db, first, await make_agent(db, "Reader"), scope="chat:read")

    again = await grants.record_consent(db, alice.id, agent.id,
                                        scopes=["chat:read", "chat:write"],
                                        constraints={CHANNELS: [DESIGN]}, resource=API,
                                        details=[])

    assert again.id == first.id
    assert (again.scope, again.constraints, again.version) == (
        "chat:read chat:write", {CHANNELS: [DESIGN]}, 2)
    assert await revocations(db, again) == [2]  # tokens of the first consent stop
    assert child.revoked_at is not None  # rides:read is gone: nothing left to it
    assert (reader.scope, reader.constraints) == ("chat:read", {CHANNELS: [DESIGN]})


async def test_a_second_consent_replaces_the_mandate_or_drops_it_with_payments_spend(
        db: AsyncSession, alice: User) -> None:
    from tests.gateway.payments.conftest import mandate

    agent = await make_agent(db)
    first = await grants.record_consent(db, alice.id, agent.id,
                                        scopes=["rides:book", "payments:spend"], constraints={},
                                        resource=API, details=[mandate(budget=20_000)])
    raised = await grants.record_consent(db, alice.id, agent.id,
                                         scopes=["rides:book", "payments:spend"], constraints={},
                                         resource=API, details=[mandate(budget=40_000)])
    assert raised.id == first.id
    assert raised.authorization_details[0]["budget"]["amount"] == 40_000

    dropped = await grants.record_consent(db, alice.id, agent.id, scopes=["rides:book"],
                                          constraints={}, resource=API, details=[])
    assert (dropped.id, dropped.authorization_details) == (first.id, [])


async def test_consents_for_other_resources_agents_or_people_are_other_grants(
        db: AsyncSession, alice: User, bob: User) -> None:
    agent, other = await make_agent(db), await make_agent(db, "Other")
    made = [await grants.record_consent(db, person.id, who.id, scopes=["chat:read"],
                                        constraints={}, resource=resource, details=[])
            for person, who, resource in [(alice, agent, API), (alice, agent, MCP),
                                          (alice, other, API), (bob, agent, API)]]

    assert len({grant.id for grant in made}) == 4


async def test_a_second_consent_without_a_mandate_keeps_the_one_the_person_set(
        db: AsyncSession, alice: User) -> None:
    """The MCP SDK sends no authorization_details when it steps up: spending goes on."""
    from tests.gateway.payments.conftest import mandate

    agent = await make_agent(db)
    first = await grants.record_consent(db, alice.id, agent.id,
                                        scopes=["rides:read", "payments:spend"], constraints={},
                                        resource=API, details=[mandate(budget=10_000)])
    child = await make_sub_grant(db, first, await make_agent(db, "Helper"))
    child.authorization_details = [mandate(budget=5_000)]

    again = await grants.record_consent(db, alice.id, agent.id,
                                        scopes=["rides:read", "rides:book", "payments:spend"],
                                        constraints={}, resource=API, details=[])

    assert again.authorization_details[0]["budget"]["amount"] == 10_000
    assert child.authorization_details[0]["budget"]["amount"] == 5_000  # its share stays
