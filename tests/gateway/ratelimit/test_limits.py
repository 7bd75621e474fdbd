"""Through the gateway: every limited call says where its quota stands; past it, 429.

The apps here run with small quotas (3 calls per agent, 4 per person, per minute) so a
test can reach them; the defaults are generous enough that nothing else ever does.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.activity.models import ActivityEntry
from gateway.config import Settings
from gateway.identity.models import Grant
from seeds.agents import CALENDAR_HELPER_GRANT, TRIP_PLANNER, TRIP_PLANNER_GRANT
from seeds.loader import seed
from seeds.people import PEOPLE
from tests.support.agents import bearer, make_grant, mint_access_token
from tests.support.gateway import client_of, running_gateway
from tests.support.processes import free_port
from tests.support.redis import delete_prefix, unique_prefix
from tests.support.web import sign_in

PROBLEM = "application/problem+json"
CHANNELS = "/api/chat/channels"
AGENT_QUOTA, PERSON_QUOTA = 3, 4
SERVICE_TIMING = re.compile(r"(?:^|, )limits;dur=")


@pytest.fixture
async def limited_app(database_url: str) -> AsyncIterator[FastAPI]:
    await seed(database_url)
    async with running_gateway(Settings(env="test", database_url=database_url,
                                        rate_limit_agent=AGENT_QUOTA,
                                        rate_limit_person=PERSON_QUOTA)) as app:
        yield app


@pytest.fixture
async def http(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(limited_app) as client:
        yield client


async def grant_to_planner(app: FastAPI, person: str) -> dict[str, str]:
    """A token of Trip Planner acting for ``person`` (its own grant, all channels)."""
    async with app.state.sessionmaker() as db:
        grant: Grant = await make_grant(db, PEOPLE[person].id, None, scope="chat:read")
        grant.agent_id = TRIP_PLANNER.id
        await db.commit()
    return bearer(await mint_access_token(app, grant.id))


async def planner(app: FastAPI) -> dict[str, str]:
    return bearer(await mint_access_token(app, TRIP_PLANNER_GRANT))


def remaining(response: httpx.Response) -> int:
    match = re.fullmatch(r'"(agent|person)";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    assert 0 < int(match.group(3)) <= 60
    return int(match.group(2))


async def test_each_answer_carries_the_policy_and_a_falling_remaining_quota(
        http: httpx.AsyncClient, limited_app: FastAPI) -> None:
    token = await planner(limited_app)

    answers = [await http.get(CHANNELS, headers=token) for _ in range(AGENT_QUOTA)]

    assert [a.status_code for a in answers] == [200] * AGENT_QUOTA
    assert {a.headers["ratelimit-policy"] for a in answers} == {'"agent";q=3;w=60'}
    assert [remaining(a) for a in answers] == [2, 1, 0]
    assert SERVICE_TIMING.search(answers[0].headers["server-timing"])


async def test_over_the_quota_an_agent_gets_429_with_retry_after_and_a_problem(
        http: httpx.AsyncClient, limited_app: FastAPI) -> None:
    token = await planner(limited_app)
    for _ in range(AGENT_QUOTA):
        await http.get(CHANNELS, headers=token)

    refused = await http.get(CHANNELS, headers=token)

    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    assert refused.headers["ratelimit-policy"] == '"agent";q=3;w=60'
    assert remaining(refused) == 0
    body: dict[str, Any] = refused.json()
    assert body["type"] == "/problems/rate-limited"
    assert body["status"] == 429
    assert body["violated-policies"] == ["agent"]
    assert body["retry_after"] == wait


async def test_a_refused_call_never_reaches_the_service_and_is_in_the_activity(
        http: httpx.AsyncClient, limited_app: FastAPI) -> None:
    token = await planner(limited_app)
    for _ in range(AGENT_QUOTA):
        await http.get(CHANNELS, headers=token)
    chat = limited_app.state.services.get("chat")
    forwarded: list[str] = []
    original = chat.client.request

    async def spy(method: str, url: str, **kwargs: Any) -> httpx.Response:
        forwarded.append(url)
        return await original(method, url, **kwargs)

    chat.client.request = spy

    refused = await http.get(CHANNELS, headers=token)
    await limited_app.state.activity.flush()

    assert refused.status_code == 429
    assert forwarded == []
    async with limited_app.state.sessionmaker() as db:
        entry = (await db.execute(sa.select(ActivityEntry).where(
            ActivityEntry.request_id == refused.headers["x-request-id"]))).scalar_one()
    assert entry.status == 429
    assert entry.problem_type == "rate-limited"
    assert entry.agent_sub == f"agent:{TRIP_PLANNER.id}"


async def test_two_agents_of_one_person_each_have_their_own_quota(
        http: httpx.AsyncClient, limited_app: FastAPI) -> None:
    trip_planner = await planner(limited_app)
    helper = bearer(await mint_access_token(limited_app, CALENDAR_HELPER_GRANT))
    for _ in range(AGENT_QUOTA):
        await http.get(CHANNELS, headers=trip_planner)

    assert (await http.get(CHANNELS, headers=trip_planner)).status_code == 429
    first = await http.get(CHANNELS, headers=helper)
    assert first.status_code == 200
    assert remaining(first) == AGENT_QUOTA - 1


async def test_one_agent_acting_for_two_people_has_a_quota_for_each(
        http: httpx.AsyncClient, limited_app: FastAPI) -> None:
    for_alice = await grant_to_planner(limited_app, "alice")
    for_bob = await grant_to_planner(limited_app, "bob")
    for _ in range(AGENT_QUOTA):
        await http.get(CHANNELS, headers=for_alice)

    assert (await http.get(CHANNELS, headers=for_alice)).status_code == 429
    assert (await http.get(CHANNELS, headers=for_bob)).status_code == 200


async def test_a_persons_web_use_is_not_counted_against_their_agent(
        http: httpx.AsyncClient, limited_app: FastAPI) -> None:
    token = await planner(limited_app)
    for _ in range(AGENT_QUOTA):
        await http.get(CHANNELS, headers=token)
    await sign_in(http, "alice")

    mine = await http.get(CHANNELS)  # alice herself, with her session cookie

    assert mine.status_code == 200
    assert mine.headers["ratelimit-policy"] == '"person";q=4;w=60'
    assert remaining(mine) == PERSON_QUOTA - 1
    assert (await http.get(CHANNELS, headers=token)).status_code == 429


async def test_a_person_over_their_quota_is_refused_on_their_pages_too(
        http: httpx.AsyncClient) -> None:
    await sign_in(http, "alice")
    for _ in range(PERSON_QUOTA):
        assert (await http.get(CHANNELS)).status_code == 200

    api = await http.get(CHANNELS)
    page = await http.get("/chat", headers={"accept": "text/html"})

    assert api.status_code == 429
    assert api.json()["violated-policies"] == ["person"]
    assert page.status_code == 429
    assert "retry-after" in page.headers


async def test_answers_past_the_limits_stage_carry_the_fields_and_earlier_refusals_dont_count(
        http: httpx.AsyncClient, limited_app: FastAPI) -> None:
    token = await planner(limited_app)

    missing = await http.get("/api/chat/channels/00000000-0000-0000-0000-000000000000",
                             headers=token)
    no_scope = await http.post(CHANNELS, headers=token, json={"name": "x"})
    after = await http.get(CHANNELS, headers=token)

    assert missing.status_code in (403, 404)
    assert "ratelimit" in missing.headers  # the service answered: the call counted
    assert no_scope.status_code == 403  # refused at stage 3, before the limits
    assert "ratelimit" not in no_scope.headers
    assert remaining(after) == AGENT_QUOTA - 2


async def test_a_limit_of_zero_turns_the_limit_and_its_fields_off(database_url: str) -> None:
    await seed(database_url)
    settings = Settings(env="test", database_url=database_url, rate_limit_agent=0)
    async with running_gateway(settings) as app, client_of(app) as client:
        token = await planner(app)
        answers = [await client.get(CHANNELS, headers=token) for _ in range(AGENT_QUOTA + 2)]

    assert [a.status_code for a in answers] == [200] * (AGENT_QUOTA + 2)
    assert not any("ratelimit" in a.headers for a in answers)


async def test_the_openapi_document_lists_429_and_the_ratelimit_fields(
        http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    operation = doc["paths"]["/api/chat/channels"]["get"]

    assert "429" in operation["responses"]
    assert {"RateLimit", "RateLimit-Policy", "Retry-After"} <= set(
        operation["responses"]["429"]["headers"])
    assert {"RateLimit", "RateLimit-Policy"} <= set(operation["responses"]["200"]["headers"])


# --- Redis behind the apps ---


@asynccontextmanager
async def two_gateways(settings: Settings,
                       ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient]]:
    """Two gateway apps with the same settings (two processes' worth), a client for each."""
    async with running_gateway(settings) as first, running_gateway(settings) as second, \
            client_of(first) as one, client_of(second) as two:
        yield first, one, two

@pytest.mark.redis
async def test_two_apps_sharing_redis_share_one_quota(database_url: str, redis_url: str) -> None:
    await seed(database_url)
    prefix = unique_prefix()
    settings = Settings(env="test", database_url=database_url, rate_limit_agent=AGENT_QUOTA,
                        redis_url=redis_url, redis_key_prefix=prefix)
    try:
        async with two_gateways(settings) as (first, one, two):
            token = await planner(first)
            statuses = [(await client.get(CHANNELS, headers=token)).status_code
                        for client in (one, two, one, two, one)]
    finally:
        delete_prefix(prefix, redis_url)

    assert statuses == [200, 200, 200, 429, 429]


async def test_without_redis_two_apps_each_admit_the_quota(database_url: str) -> None:
    """Why several gateway processes need Redis: in memory, each counts only its own calls."""
    await seed(database_url)
    settings = Settings(env="test", database_url=database_url, rate_limit_agent=AGENT_QUOTA)
    async with two_gateways(settings) as (first, one, two):
        token = await planner(first)
        statuses = [(await client.get(CHANNELS, headers=token)).status_code
                    for client in (one, two) for _ in range(AGENT_QUOTA + 1)]

    assert statuses == ([200] * AGENT_QUOTA + [429]) * 2


async def test_with_redis_down_calls_go_on_limited_per_process(database_url: str) -> None:
    await seed(database_url)
    settings = Settings(env="test", database_url=database_url, rate_limit_agent=AGENT_QUOTA,
                        redis_url=f"redis://127.0.0.1:{free_port()}/0",
                        redis_timeout_seconds=1)
    async with running_gateway(settings) as app, client_of(app) as client:
        token = await planner(app)
        answers = [await client.get(CHANNELS, headers=token) for _ in range(AGENT_QUOTA + 1)]

    assert [a.status_code for a in answers] == [200] * AGENT_QUOTA + [429]
    assert [remaining(a) for a in answers] == [2, 1, 0, 0]
