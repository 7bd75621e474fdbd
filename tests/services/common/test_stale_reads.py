"""A GET whose write SQLite refused (stale read snapshot) runs once more as a writer's.

On a real SQLite file (WAL): the route reads, another connection commits, then
the route writes. Begun as a plain read, that write is refused at once ("database
is locked"); the retry begins IMMEDIATE and goes through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from sqlalchemy.exc import OperationalError

from services.common.db import make_engine, make_sessionmaker
from services.common.deps import SessionDep
from services.common.problems import install_problem_handlers
from services.common.stale_reads import RetryStaleReads, request_writes

LOCKED = OperationalError("UPDATE counter", {}, Exception("database is locked"))


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'stale.db'}")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        await conn.exec_driver_sql("INSERT INTO counter VALUES (1, 0), (2, 0)")
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RetryStaleReads)
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.write_sessionmaker = make_sessionmaker(engine, writes=True)
    app.state.attempts = []
    yield app
    await engine.dispose()


async def call(app: FastAPI, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


async def counts(app: FastAPI) -> list[int]:
    async with app.state.sessionmaker() as db:
        return list((await db.scalars(sa.text("SELECT n FROM counter ORDER BY id"))).all())


async def test_a_read_whose_write_was_refused_runs_once_more_as_a_writer(app: FastAPI) -> None:
    @app.get("/read-then-write")
    async def read_then_write(request: Request, session: SessionDep) -> dict[str, int]:
        app.state.attempts.append(request_writes(request))
        seen = await session.scalar(sa.text("SELECT n FROM counter WHERE id = 1"))
        if len(app.state.attempts) == 1:  # another request commits meanwhile
            async with app.state.write_sessionmaker() as other, other.begin():
                await other.execute(sa.text("UPDATE counter SET n = n + 1 WHERE id = 2"))
        await session.execute(sa.text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        return {"seen": seen or 0}

    response = await call(app, "GET", "/read-then-write")

    assert response.status_code == 200, response.text
    assert app.state.attempts == [False, True]  # a plain read first, then a writer's
    assert await counts(app) == [1, 1]  # the refused attempt left nothing behind


async def test_it_retries_once_then_answers_the_busy_503(app: FastAPI) -> None:
    @app.get("/always-locked")
    async def always_locked(request: Request) -> None:
        app.state.attempts.append(request_writes(request))
        raise LOCKED

    response = await call(app, "GET", "/always-locked")

    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    assert app.state.attempts == [False, True]


async def test_an_unsafe_method_already_began_as_a_writer_and_is_not_retried(
        app: FastAPI) -> None:
    @app.post("/locked")
    async def locked(request: Request) -> None:
        app.state.attempts.append(request_writes(request))
        raise LOCKED

    response = await call(app, "POST", "/locked")

    assert response.status_code == 503
    assert app.state.attempts == [True]


async def test_any_other_error_is_not_retried(app: FastAPI) -> None:
    @app.get("/crash")
    async def crash(request: Request) -> None:
        app.state.attempts.append(request_writes(request))
        raise RuntimeError("not the database")

    response = await call(app, "GET", "/crash")

    assert response.status_code == 500
    assert app.state.attempts == [False]
