"""Shared fixtures. Data-touching tests take ``database_url`` and so run on both backends."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.databases import PostgresDatabase, SqliteTemplate, migrated_postgres


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Collect after every test, so a leaked connection warns in the test that leaked it.

    Without this, the ResourceWarning of an unclosed connection surfaces whenever the
    garbage collector happens to run, in some later, innocent test.
    """
    yield
    gc.collect()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    from gateway.migrate import upgrade

    template = SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))
    upgrade(template.url)
    return template


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[PostgresDatabase]:
    yield from migrated_postgres()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a SQLite copy or a truncated PostgreSQL database."""
    if request.param == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        return template.copy_to(tmp_path)
    db: PostgresDatabase = request.getfixturevalue("postgres_db")
    db.truncate_all()
    return db.url


@pytest.fixture
async def gateway_app(database_url: str) -> AsyncIterator[FastAPI]:
    """The whole system in-process (gateway + services) on a seeded database."""
    from gateway.config import Settings
    from seeds.loader import seed
    from tests.support.gateway import running_gateway

    await seed(database_url)
    async with running_gateway(Settings(env="test", database_url=database_url)) as app:
        yield app


@pytest.fixture
async def client(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client (https, so Secure cookies flow) for the gateway."""
    from tests.support.gateway import client_of

    async with client_of(gateway_app) as http:
        yield http
