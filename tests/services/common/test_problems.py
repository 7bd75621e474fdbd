"""The last-resort handler: a busy SQLite database is a 503 to retry, anything else a 500."""

from __future__ import annotations

import sqlite3

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from services.common.problems import install_problem_handlers


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/write")
    async def write() -> None:
        raise error

    return app


async def call(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get("/write")


async def test_a_locked_sqlite_database_is_a_503_to_retry() -> None:
    locked = OperationalError("UPDATE read_state ...", {},
                              sqlite3.OperationalError("database is locked"))

    response = await call(app_raising(locked))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "/problems/service-unavailable"


async def test_any_other_database_error_is_still_a_500() -> None:
    broken = OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: x"))

    response = await call(app_raising(broken))

    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"
