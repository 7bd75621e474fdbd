"""The two counters behind the limits: fixed windows in memory and in Redis.

Window arithmetic runs on an injected clock (no sleeping); Redis keeps its own time,
so its tests check what that time says (the key's expiry) instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from gateway.principal import Principal
from gateway.ratelimit import Hit, MemoryStore, Policy, RedisStore, partition
from gateway.ratelimit.memory import SWEEP_SECONDS
from gateway.ratelimit.redis_store import RETRY_REDIS_SECONDS, redis_client
from services.common.txn_token import Actor
from tests.support.processes import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the header fields (draft-ietf-httpapi-ratelimit-headers-11, sections 3 and 4) ---

def test_fields_name_the_policy_its_quota_window_remaining_and_reset() -> None:
    policy = Policy("agent", quota=100, window=60)

    fields = Hit(allowed=True, count=58, reset_after=16.2).fields(policy)

    assert fields == {"RateLimit-Policy": '"agent";q=100;w=60',
                      "RateLimit": '"agent";r=42;t=17'}


def test_remaining_never_goes_below_zero_and_retry_after_is_at_least_one_second() -> None:
    hit = Hit(allowed=False, count=120, reset_after=0.01)

    assert hit.fields(Policy("person", 100, 60))["RateLimit"] == '"person";r=0;t=1'
    assert hit.retry_after() == 1


# --- partitions: who counts against what ---

def _principal(user: uuid.UUID, *, agent: uuid.UUID | None = None,
               via: str = "token") -> Principal:
    actors = (Actor(sub=f"agent:{agent}"),) if agent else ()
    return Principal(user_id=user, username="u", display_name="U", scopes=frozenset(),
                     via=via, actors=actors, agent_id=agent,  # type: ignore[arg-type]
                     client_id=f"https://{agent}.example/client.json" if agent else None)


def test_an_agent_counts_per_person_and_agent_apart_from_the_person() -> None:
    alice, bob, planner, helper = (uuid.uuid4() for _ in range(4))

    keys = {
        partition(_principal(alice, agent=planner)),
        partition(_principal(alice, agent=helper)),
        partition(_principal(bob, agent=planner)),
        partition(_principal(alice, via="session")),
    }

    assert len(keys) == 4
    assert partition(_principal(alice, agent=planner))[0] == "agent"
    assert partition(_principal(alice, via="session")) == ("person", f"person:{alice}")


def test_a_persons_own_token_counts_with_their_web_use() -> None:
    alice = uuid.uuid4()

    assert partition(_principal(alice, via="token")) == partition(_principal(alice,
                                                                             via="session"))


# --- memory ---

async def test_memory_admits_the_quota_then_refuses_until_the_window_ends() -> None:
    clock = Clock()
    store = MemoryStore(clock)

    admitted = [await store.hit("k", 3, 60) for _ in range(3)]
    clock.now += 59.5
    refused = await store.hit("k", 3, 60)
    clock.now += 0.5
    next_window = await store.hit("k", 3, 60)

    assert [(h.allowed, h.count, h.reset_after) for h in admitted] == [
        (True, 1, 60), (True, 2, 60), (True, 3, 60)]
    assert (refused.allowed, refused.count, refused.reset_after) == (False, 3, 0.5)
    assert (next_window.allowed, next_window.count, next_window.reset_after) == (True, 1, 60)


async def test_memory_keys_do_not_share_a_quota() -> None:
    store = MemoryStore(Clock())

    await store.hit("a", 1, 60)

    assert not (await store.hit("a", 1, 60)).allowed
    assert (await store.hit("b", 1, 60)).allowed


async def test_memory_forgets_finished_windows() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    for n in range(5):
        await store.hit(f"idle-{n}", 10, 10)

    clock.now += SWEEP_SECONDS
    await store.hit("busy", 10, 10)

    assert len(store) == 1


async def test_memory_never_admits_more_than_the_quota_at_once() -> None:
    store = MemoryStore()

    hits = await asyncio.gather(*(store.hit("k", 10, 60) for _ in range(100)))

    assert sum(h.allowed for h in hits) == 10


# --- Redis ---



@pytest.mark.redis
async def test_redis_admits_the_quota_then_refuses_within_the_keys_expiry(
        redis_url: str, redis_prefix: str) -> None:
    client = redis_client(redis_url, timeout=2)
    store = RedisStore(client, prefix=redis_prefix)
    try:
        hits = [await store.hit("k", 3, 60) for _ in range(4)]
        ttl_ms = await client.pttl(redis_prefix + "k")
    finally:
        await store.aclose()

    assert [(h.allowed, h.count) for h in hits] == [(True, 1), (True, 2), (True, 3),
                                                    (False, 3)]
    assert 0 < ttl_ms <= 60_000  # the key expires with its window: nothing is left behind
    assert all(0 < h.reset_after <= 60 for h in hits)
    assert hits[-1].reset_after <= hits[0].reset_after


@pytest.mark.redis
async def test_redis_starts_a_new_window_once_the_key_is_gone(
        redis_url: str, redis_prefix: str) -> None:
    client = redis_client(redis_url, timeout=2)
    store = RedisStore(client, prefix=redis_prefix)
    try:
        await store.hit("k", 1, 60)
        refused = await store.hit("k", 1, 60)
        await client.delete(redis_prefix + "k")  # what the expiry does at the window's end
        again = await store.hit("k", 1, 60)
    finally:
        await store.aclose()

    assert not refused.allowed
    assert (again.allowed, again.count) == (True, 1)


@pytest.mark.redis
async def test_redis_gives_a_counter_without_expiry_a_window(
        redis_url: str, redis_prefix: str) -> None:
    client = redis_client(redis_url, timeout=2)
    store = RedisStore(client, prefix=redis_prefix)
    try:
        await client.set(redis_prefix + "k", 5)  # no expiry: would block this key forever
        hit = await store.hit("k", 5, 60)
        ttl_ms = await client.pttl(redis_prefix + "k")
    finally:
        await store.aclose()

    assert not hit.allowed
    assert 0 < ttl_ms <= 60_000


@pytest.mark.redis
async def test_redis_never_admits_more_than_the_quota_from_many_connections(
        redis_url: str, redis_prefix: str) -> None:
    # Five clients, each with its own connection pool, as five gateway processes would.
    stores = [RedisStore(redis_client(redis_url, timeout=5), prefix=redis_prefix)
              for _ in range(5)]
    try:
        hits = await asyncio.gather(*(store.hit("k", 30, 60)
                                      for _ in range(25) for store in stores))
        counted = await stores[0].client.get(redis_prefix + "k")
    finally:
        for store in stores:
            await store.aclose()

    assert sum(h.allowed for h in hits) == 30
    assert int(counted) == 30
    assert sorted(h.count for h in hits if h.allowed) == list(range(1, 31))


async def test_an_unreachable_redis_fails_over_to_counting_in_this_process() -> None:
    clock = Clock()
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0",
                                   socket_connect_timeout=1, socket_timeout=1)
    store = RedisStore(dead, prefix="p:", clock=clock)
    try:
        hits = [await store.hit("k", 2, 60) for _ in range(3)]
        degraded = store.degraded
        clock.now += RETRY_REDIS_SECONDS
        retried = await store.hit("k", 2, 60)  # tries Redis again: still down
    finally:
        await store.aclose()

    assert degraded
    assert [h.allowed for h in hits] == [True, True, False]  # still limited, per process
    assert not retried.allowed
    assert store.degraded
