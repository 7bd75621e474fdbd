"""Idempotency-Key for paid calls: one key, one run; retries get the stored answer."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments.idempotency import (
    REPLAYED_HEADER,
    IdempotencyStore,
    Replay,
    Started,
    fingerprint,
    owner_of,
    parse_idempotency_key,
    run_idempotently,
)
from gateway.payments.models import IdempotencyRecord
from services.common.db import make_engine, make_sessionmaker, utcnow
from services.common.problems import PROBLEM_JSON, Problem

ALICE = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
TRIP_PLANNER = owner_of(ALICE, "trip-planner")
BOOKING = fingerprint("POST", "/api/rides/trips", "", b'{"from": "home", "to": "airport"}')
T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    content: bytes


@dataclass
class RidesService:
    """A paid operation that counts how often it really runs."""

    answer: Answer = Answer(
        201,
        {"Content-Type": "application/json", "Location": "/trips/t1", "Set-Cookie": "s=1"},
        b'{"trip": "t1", "paid": 2350}',
    )
    raises: BaseException | None = None
    calls: int = 0
    release: anyio.Event | None = None

    async def __call__(self) -> Answer:
        self.calls += 1
        if self.release is not None:
            await self.release.wait()
        if self.raises is not None:
            raise self.raises
        return self.answer


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> IdempotencyStore:
    return IdempotencyStore(sessions)


async def records(sessions: async_sessionmaker[AsyncSession]) -> list[IdempotencyRecord]:
    async with sessions() as session:
        return list(await session.scalars(select(IdempotencyRecord)))


async def problem_of(store: IdempotencyStore, key: str, fp: str, *, now: dt.datetime) -> Problem:
    with pytest.raises(Problem) as raised:
        await store.begin(TRIP_PLANNER, key, fp, now=now)
    return raised.value


# -- the header ---------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_missing_key_is_400_saying_paid_calls_need_one(value: str | None) -> None:
    with pytest.raises(Problem) as raised:
        parse_idempotency_key(value)
    assert (raised.value.status, raised.value.slug) == (400, "idempotency-key-missing")
    assert raised.value.detail is not None
    assert raised.value.detail.startswith("Paid calls need an Idempotency-Key header")


@pytest.mark.parametrize(
    "value",
    [
        '""',
        '"two words"',
        "two words",
        '"unterminated',
        "é",
        '"é"',
        "k" * 256,
        '"abc";p=1',
        "a,b",
        '"a\\nb"',
        '"abc" trailing',
    ],
)
def test_a_malformed_key_is_400(value: str) -> None:
    with pytest.raises(Problem) as raised:
        parse_idempotency_key(value)
    assert (raised.value.status, raised.value.slug) == (400, "idempotency-key-malformed")


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        (' "abc" ', "abc"),
        ('"a\\"b\\\\c"', 'a"b\\c'),
        ("k" * 255, "k" * 255),
    ],
)
def test_a_key_is_an_sf_string_or_a_bare_token(value: str, key: str) -> None:
    assert parse_idempotency_key(value) == key


@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=255))
def test_every_visible_ascii_key_survives_sf_string_quoting(key: str) -> None:
    quoted = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert parse_idempotency_key(quoted) == key


# -- the fingerprint ----------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def reordered(value: Any, rnd: random.Random) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: reordered(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [reordered(v, rnd) for v in value]
    return value


@given(JSON_VALUES, st.randoms(use_true_random=False), st.sampled_from([None, 0, 2]))
def test_a_json_body_fingerprints_the_same_whatever_its_key_order_and_spacing(
    value: Any, rnd: random.Random, indent: int | None
) -> None:
    sent = json.dumps(value).encode()
    retried = json.dumps(reordered(value, rnd), indent=indent).encode()
    assert fingerprint("POST", "/p", "", sent) == fingerprint("POST", "/p", "", retried)


@given(JSON_VALUES, JSON_VALUES)
def test_different_json_bodies_fingerprint_differently(first: Any, second: Any) -> None:
    same = json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    one = fingerprint("POST", "/p", "", json.dumps(first).encode())
    other = fingerprint("POST", "/p", "", json.dumps(second).encode())
    assert (one == other) == same


@given(st.text(), st.text(), st.text(), st.text())
def test_the_parts_of_a_request_never_run_together(a: str, b: str, c: str, d: str) -> None:
    assert (fingerprint("POST", a, b, b"") == fingerprint("POST", c, d, b"")) == ((a, b) == (c, d))


def test_a_fingerprint_covers_method_path_query_and_raw_body() -> None:
    base = fingerprint("POST", "/trips", "seats=1", b"plain text")
    assert re.fullmatch("[0-9a-f]{64}", base)  # SHA-256, hex
    assert base == fingerprint("post", "/trips", "seats=1", b"plain text")
    assert base != fingerprint("PUT", "/trips", "seats=1", b"plain text")
    assert base != fingerprint("POST", "/trip", "seats=1", b"plain text")
    assert base != fingerprint("POST", "/trips", "seats=2", b"plain text")
    assert base != fingerprint("POST", "/trips", "seats=1", b"plain  text")


# -- owners -------------------------------------------------------------------


def test_an_owner_is_the_person_and_the_agent() -> None:
    assert owner_of(ALICE, "trip-planner") == f"{ALICE}:trip-planner"
    assert owner_of(ALICE, None) == f"{ALICE}:person"


async def test_another_agents_same_key_runs_anew(store: IdempotencyStore) -> None:
    rides = RidesService()
    for owner in (TRIP_PLANNER, owner_of(ALICE, "scout"), owner_of(ALICE, None)):
        answer = await run_idempotently(store, owner, "k1", BOOKING, rides)
        assert REPLAYED_HEADER not in answer.headers
    assert rides.calls == 3


# -- running once -------------------------------------------------------------


async def test_the_first_call_runs_and_its_answer_is_stored(
    store: IdempotencyStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rides = RidesService()
    answer = await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    assert rides.calls == 1
    assert answer.status == 201
    assert answer.content == b'{"trip": "t1", "paid": 2350}'
    assert answer.headers == {"content-type": "application/json", "location": "/trips/t1"}
    [record] = await records(sessions)
    assert (record.owner, record.key, record.fingerprint) == (TRIP_PLANNER, "k1", BOOKING)
    assert (record.status_code, record.headers, record.body) == (
        201,
        answer.headers,
        answer.content,
    )


async def test_a_replay_returns_the_stored_answer_without_running_the_call(
    store: IdempotencyStore,
) -> None:
    rides = RidesService()
    first = await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    rides.answer = Answer(201, {}, b'{"trip": "t2"}')  # would be a second booking
    again = await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    assert rides.calls == 1
    assert (again.status, again.content) == (first.status, first.content)
    assert again.headers == {**first.headers, REPLAYED_HEADER: "true"}


async def test_the_same_key_with_another_body_is_422(store: IdempotencyStore) -> None:
    rides = RidesService()
    await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    other = fingerprint("POST", "/api/rides/trips", "", b'{"from": "home", "to": "zoo"}')
    with pytest.raises(Problem) as raised:
        await run_idempotently(store, TRIP_PLANNER, "k1", other, rides)
    assert (raised.value.status, raised.value.slug) == (422, "idempotency-key-reused")
    assert rides.calls == 1


async def test_the_same_key_while_in_flight_is_409_with_retry_after(
    store: IdempotencyStore,
) -> None:
    assert isinstance(await store.begin(TRIP_PLANNER, "k1", BOOKING, now=T0), Started)
    problem = await problem_of(store, "k1", BOOKING, now=T0 + dt.timedelta(seconds=1))
    assert (problem.status, problem.slug) == (409, "idempotency-key-in-use")
    assert 1 <= int(problem.headers["Retry-After"]) <= 60


async def test_twenty_concurrent_calls_with_one_key_run_once(store: IdempotencyStore) -> None:
    # The winner's call is held until the other nineteen have been answered, so a
    # second winner would be held too and the test would time out instead of pass.
    rides = RidesService(release=anyio.Event())
    refused: list[int] = []

    async def attempt() -> None:
        try:
            await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
        except Problem as problem:
            refused.append(problem.status)
            if len(refused) == 19:
                assert rides.release is not None
                rides.release.set()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(attempt)
    assert rides.calls == 1
    assert refused == [409] * 19


async def test_twenty_concurrent_begins_give_exactly_one_start(store: IdempotencyStore) -> None:
    outcomes = await begin_concurrently(store, 20, now=T0)
    assert outcomes.count("started") == 1
    assert outcomes.count(409) == 19


async def begin_concurrently(store: IdempotencyStore, n: int, *, now: dt.datetime) -> list[Any]:
    outcomes: list[Any] = []

    async def one() -> None:
        try:
            outcome = await store.begin(TRIP_PLANNER, "k1", BOOKING, now=now)
        except Problem as problem:
            outcomes.append(problem.status)
        else:
            outcomes.append("started" if isinstance(outcome, Started) else outcome)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
    return outcomes


# -- what is stored -----------------------------------------------------------


async def test_a_5xx_answer_is_not_stored_so_a_retry_runs_again(
    store: IdempotencyStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rides = RidesService(answer=Answer(503, {"Retry-After": "5"}, b"down"))
    answer = await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    assert answer.status == 503
    assert await records(sessions) == []
    rides.answer = Answer(201, {}, b'{"trip": "t1"}')
    again = await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    assert (again.status, rides.calls) == (201, 2)


@pytest.mark.parametrize(
    "failure",
    [
        lambda: Problem(502, "bad-gateway", "The rides service answered badly."),
        # The caller may not make the call (yet): after a scope step-up it must run.
        lambda: Problem(403, "insufficient-scope", "This operation needs payments:spend."),
        lambda: Problem(401, "invalid-token", "The access token is not valid: expired."),
        lambda: RuntimeError("connection reset"),
        lambda: anyio.get_cancelled_exc_class()(),
    ],
    ids=["5xx problem", "403 refusal", "401 refusal", "exception", "cancelled"],
)
async def test_a_call_that_raises_releases_the_key_so_a_retry_runs_again(
    store: IdempotencyStore,
    sessions: async_sessionmaker[AsyncSession],
    failure: Callable[[], BaseException],
) -> None:
    rides = RidesService(raises=failure())
    with pytest.raises(type(rides.raises)):
        await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    assert await records(sessions) == []
    rides.raises = None
    again = await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    assert (again.status, rides.calls) == (201, 2)


async def test_a_4xx_problem_is_stored_and_replayed_as_the_same_problem(
    store: IdempotencyStore,
) -> None:
    declined = Problem(402, "payment-required", "The card was declined.", reason="card_declined")
    rides = RidesService(raises=declined)
    with pytest.raises(Problem) as raised:
        await run_idempotently(
            store, TRIP_PLANNER, "k1", BOOKING, rides, instance="/api/rides/trips"
        )
    assert raised.value is declined  # the caller's own error path still runs
    again = await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, rides)
    assert rides.calls == 1
    assert again.status == 402
    assert again.headers == {"content-type": PROBLEM_JSON, REPLAYED_HEADER: "true"}
    assert json.loads(again.content) == declined.body("/api/rides/trips")


async def test_keys_last_at_least_24_hours(
    store: IdempotencyStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    started = await store.begin(TRIP_PLANNER, "k1", BOOKING, now=T0)
    assert isinstance(started, Started)
    assert await store.finish(started, 201, {}, b"booked", now=T0)
    [record] = await records(sessions)
    assert record.expires_at >= T0 + dt.timedelta(hours=24)
    replay = await store.begin(
        TRIP_PLANNER, "k1", BOOKING, now=T0 + dt.timedelta(hours=23, minutes=59)
    )
    assert replay == Replay(201, {}, b"booked")
    with pytest.raises(ValueError, match="at least"):
        IdempotencyStore(sessions, ttl=dt.timedelta(hours=1))


# -- crashes and expiry -------------------------------------------------------


async def test_a_key_left_in_flight_by_a_crash_is_taken_over_by_exactly_one_retry(
    store: IdempotencyStore,
) -> None:
    crashed = await store.begin(TRIP_PLANNER, "k1", BOOKING, now=T0)
    assert isinstance(crashed, Started)
    later = T0 + store.lock + dt.timedelta(seconds=1)
    outcomes = await begin_concurrently(store, 20, now=later)
    assert outcomes.count("started") == 1
    assert outcomes.count(409) == 19


async def test_a_crashed_attempt_that_wakes_after_a_takeover_stores_nothing(
    store: IdempotencyStore,
) -> None:
    slow = await store.begin(TRIP_PLANNER, "k1", BOOKING, now=T0)
    later = T0 + store.lock + dt.timedelta(seconds=1)
    retry = await store.begin(TRIP_PLANNER, "k1", BOOKING, now=later)
    assert isinstance(slow, Started)
    assert isinstance(retry, Started)
    assert not await store.finish(slow, 201, {}, b"first", now=later)
    await store.abandon(slow)  # nor can it release the retry's key
    assert await store.finish(retry, 201, {}, b"second", now=later)
    replay = await store.begin(TRIP_PLANNER, "k1", BOOKING, now=later)
    assert replay == Replay(201, {}, b"second")


async def test_a_key_left_in_flight_is_not_taken_over_by_another_request(
    store: IdempotencyStore,
) -> None:
    await store.begin(TRIP_PLANNER, "k1", BOOKING, now=T0)
    other = fingerprint("POST", "/api/rides/trips", "", b"{}")
    problem = await problem_of(store, "k1", other, now=T0 + dt.timedelta(hours=1))
    assert (problem.status, problem.slug) == (422, "idempotency-key-reused")


@pytest.mark.parametrize("same_request", [True, False])
async def test_an_expired_key_is_taken_over_by_any_request(
    store: IdempotencyStore, same_request: bool
) -> None:
    started = await store.begin(TRIP_PLANNER, "k1", BOOKING, now=T0)
    assert isinstance(started, Started)
    await store.finish(started, 201, {}, b"booked", now=T0)
    fp = BOOKING if same_request else fingerprint("POST", "/api/rides/trips", "", b"{}")
    after = T0 + store.ttl + dt.timedelta(seconds=1)
    assert isinstance(await store.begin(TRIP_PLANNER, "k1", fp, now=after), Started)


async def test_pruning_deletes_expired_keys_only(
    store: IdempotencyStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for key, now in (("old", T0), ("new", T0 + dt.timedelta(hours=2))):
        started = await store.begin(TRIP_PLANNER, key, BOOKING, now=now)
        assert isinstance(started, Started)
        await store.finish(started, 201, {}, b"booked", now=now)
    await store.begin(TRIP_PLANNER, "running", BOOKING, now=T0 + dt.timedelta(hours=25))
    assert await store.prune(T0 + dt.timedelta(hours=25)) == 1
    assert sorted(r.key for r in await records(sessions)) == ["new", "running"]


async def test_pruning_with_the_clock_keeps_fresh_keys(store: IdempotencyStore) -> None:
    await run_idempotently(store, TRIP_PLANNER, "k1", BOOKING, RidesService())
    assert await store.prune() == 0
    assert await store.prune(utcnow() + dt.timedelta(days=2)) == 1
