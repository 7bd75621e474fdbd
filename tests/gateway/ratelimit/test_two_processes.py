"""Issue 6's "Done means": rate limits hold across two gateway processes sharing Redis.

Two gateway processes (uvicorn, as replicas behind one public address) share one
PostgreSQL database and one Redis. One agent token calls both at once; between
them they admit exactly the quota, and refuse the rest with 429 and Retry-After.
(Without Redis each process would count alone and admit the quota each:
test_limits.py shows that with two in-process apps.)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from gateway.app import create_app
from gateway.config import Settings
from seeds.agents import TRIP_PLANNER_GRANT
from tests.support.agents import bearer, mint_access_token
from tests.support.databases import PostgresDatabase, postgres_available, unavailable
from tests.support.processes import (
    ServerProcess,
    agentgate_command,
    free_port,
    run_command,
    uvicorn_command,
)
from tests.support.redis import delete_prefix, redis_available, unique_prefix

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

QUOTA, WINDOW = 20, 600
PER_PROCESS = 30  # concurrent calls at each process: 60 in all, three times the quota
CHANNELS = "/api/chat/channels"


@dataclass(frozen=True)
class Replicas:
    urls: tuple[str, str]
    public_url: str
    database_url: str
    logs: Path


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Two gateway processes on one seeded PostgreSQL database and one Redis prefix."""
    from gateway.migrate import upgrade
    from tests.support.redis import REDIS_URL

    for why in (postgres_available(), redis_available()):
        if why:
            unavailable(why)  # skips locally, fails under CI=true
    logs = tmp_path_factory.mktemp("replicas")
    db = PostgresDatabase()
    db.create()
    prefix = unique_prefix()
    try:
        upgrade(db.url)
        run_command(agentgate_command("seed"), env={"AGENTGATE_DATABASE_URL": db.url})
        ports = free_port(), free_port()
        public_url = f"http://127.0.0.1:{ports[0]}"  # one issuer: replicas of one gateway
        env = {
            "AGENTGATE_ENV": "development",
            "AGENTGATE_DATABASE_URL": db.url,
            "AGENTGATE_PUBLIC_URL": public_url,
            "AGENTGATE_REDIS_URL": REDIS_URL,
            "AGENTGATE_REDIS_KEY_PREFIX": prefix,
            "AGENTGATE_RATE_LIMIT_AGENT": str(QUOTA),
            "AGENTGATE_RATE_LIMIT_WINDOW_SECONDS": str(WINDOW),
        }
        first, second = (
            ServerProcess(f"gateway-{n}", uvicorn_command("gateway.app:standalone", port),
                          port=port, env=env, log_path=logs / f"gateway-{n}.log")
            for n, port in enumerate(ports, start=1))
        # One after the other: the first creates the signing keys, the second loads them.
        with first:
            first.wait_ready("/.well-known/jwks.json")
            with second:
                second.wait_ready("/.well-known/jwks.json")
                yield Replicas((first.url, second.url), public_url, db.url, logs)
    finally:
        db.drop()  # after both processes have stopped
        delete_prefix(prefix)


async def agent_token(replicas: Replicas) -> dict[str, str]:
    """Trip Planner's token for alice, signed with the replicas' key (read from their DB)."""
    app = create_app(Settings(env="test", database_url=replicas.database_url,
                              public_url=replicas.public_url))
    async with app.router.lifespan_context(app):
        return bearer(await mint_access_token(app, TRIP_PLANNER_GRANT))


def remaining(response: httpx.Response) -> int:
    match = re.fullmatch(r'"agent";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert match, response.headers.get("ratelimit")
    return int(match.group(1))


async def test_two_gateway_processes_sharing_redis_admit_exactly_the_quota(
        replicas: Replicas) -> None:
    token = await agent_token(replicas)
    answers: list[tuple[int, httpx.Response]] = []
    async with httpx.AsyncClient(timeout=60.0, headers=token,
                                 limits=httpx.Limits(max_connections=2 * PER_PROCESS)) as http:
        # One call at each first, in turn: the second process sees the first one's count.
        first = await http.get(replicas.urls[0] + CHANNELS)
        second = await http.get(replicas.urls[1] + CHANNELS)

        async def call(process: int) -> None:
            answers.append((process, await http.get(replicas.urls[process] + CHANNELS)))

        async with anyio.create_task_group() as calls:
            for _ in range(PER_PROCESS):
                for process in (0, 1):
                    calls.start_soon(call, process)

    logs = f"(process logs in {replicas.logs})"
    assert (first.status_code, remaining(first)) == (200, QUOTA - 1), logs
    assert (second.status_code, remaining(second)) == (200, QUOTA - 2), logs
    statuses = Counter(response.status_code for _, response in answers)
    assert statuses == {200: QUOTA - 2, 429: 2 * PER_PROCESS - (QUOTA - 2)}, logs
    admitted = sorted(remaining(r) for _, r in answers if r.status_code == 200)
    assert admitted == list(range(QUOTA - 2)), "each admitted call got its own count"
    for _, refused in (a for a in answers if a[1].status_code == 429):
        assert 1 <= int(refused.headers["retry-after"]) <= WINDOW
        assert refused.headers["ratelimit-policy"] == f'"agent";q={QUOTA};w={WINDOW}'
        assert remaining(refused) == 0
        assert refused.json()["type"] == "/problems/rate-limited"
    assert {process for process, r in answers if r.status_code == 429} == {0, 1}, \
        "both processes refused calls once the shared quota was spent"
