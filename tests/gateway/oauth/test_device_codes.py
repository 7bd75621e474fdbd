"""Device codes (RFC 8628): user codes people can type, and the polling answers of section 3.5."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.oauth import device
from services.common.db import make_engine, make_sessionmaker, utcnow
from tests.support.agents import make_agent, make_grant, make_person


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


def test_user_codes_are_two_groups_of_four_unambiguous_letters() -> None:
    code = device.new_user_code()

    assert len(code) == 9
    assert code[4] == "-"
    assert all(c in device.USER_CODE_ALPHABET for c in code.replace("-", ""))
    assert not set("AEIOU01") & set(device.USER_CODE_ALPHABET)


def test_typed_codes_are_forgiving_about_case_spaces_and_dashes() -> None:
    assert device.normalize_user_code("bcdf ghjk") == "BCDF-GHJK"
    assert device.normalize_user_code(" BCDF-GHJK ") == "BCDF-GHJK"
    assert device.normalize_user_code("BCDF-GHJ") is None
    assert device.normalize_user_code("ABCD-EFGH") is None


async def test_polls_answer_pending_slow_down_then_the_approval_once(db: AsyncSession) -> None:
    agent, alice = await make_agent(db, kind="native"), await make_person(db)
    now = utcnow()
    started = await device.start(db, agent, scope="chat:read", resource="https://gw.test/api",
                                 now=now)

    assert (await device.poll(db, started.device_code, agent, now=now))[0] == \
        "authorization_pending"
    outcome, record = await device.poll(db, started.device_code, agent,
                                        now=now + dt.timedelta(seconds=1))
    assert outcome == "slow_down"
    assert record is not None
    assert record.interval == device.DEFAULT_INTERVAL + 5

    found = await device.find_pending(db, started.record.user_code.lower(), now=now)
    assert found is not None
    assert found[1].id == agent.id
    grant = await make_grant(db, alice, agent, scope="chat:read")
    await device.decide(db, found[0], alice.id, grant_id=grant.id)

    later = now + dt.timedelta(seconds=2)
    assert (await device.poll(db, started.device_code, agent, now=later))[0] == "approved"
    assert (await device.poll(db, started.device_code, agent,
                              now=later + dt.timedelta(seconds=30)))[0] == "invalid_grant"
    assert await device.find_pending(db, started.record.user_code, now=now) is None


async def test_a_denied_code_answers_access_denied(db: AsyncSession) -> None:
    agent, alice = await make_agent(db, kind="native"), await make_person(db)
    started = await device.start(db, agent, scope="chat:read", resource="r")

    await device.decide(db, started.record, alice.id, grant_id=None)

    assert (await device.poll(db, started.device_code, agent))[0] == "access_denied"


async def test_an_expired_code_answers_expired_token(db: AsyncSession) -> None:
    agent = await make_agent(db, kind="native")
    now = utcnow()
    started = await device.start(db, agent, scope="chat:read", resource="r", now=now)

    later = now + device.DEVICE_CODE_TTL + dt.timedelta(seconds=1)
    assert (await device.poll(db, started.device_code, agent, now=later))[0] == "expired_token"
    assert await device.find_pending(db, started.record.user_code, now=later) is None


async def test_another_agents_or_an_unknown_code_is_invalid_grant(db: AsyncSession) -> None:
    agent, other = await make_agent(db, "One"), await make_agent(db, "Two")
    started = await device.start(db, agent, scope="chat:read", resource="r")

    assert (await device.poll(db, started.device_code, other))[0] == "invalid_grant"
    assert (await device.poll(db, "nonsense", agent))[0] == "invalid_grant"
