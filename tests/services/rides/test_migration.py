"""The rides migration builds the tables the models describe, and undoes itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from gateway.migrate import downgrade, upgrade
from services.common.db import make_engine
from services.rides.models import Base
from tests.support.databases import PostgresDatabase, postgres_available, unavailable

RIDES_TABLES = {"rides_places", "rides_quotes", "rides_trips"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all: migrations start from scratch."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    why = postgres_available()
    if why:
        unavailable(why)
    db = PostgresDatabase()
    db.create()
    try:
        yield db.url
    finally:
        db.drop()


def _inspect(url: str, look: Any) -> Any:
    """Run ``look(connection)`` on a synchronous view of the database."""
    async def run() -> Any:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _rides_only(name: str | None, type_: str, _parent: Any) -> bool:
    return type_ != "table" or (name or "").startswith("rides_")


def _drift(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"include_name": _rides_only})
    return list(compare_metadata(context, Base.metadata))


def test_upgrade_creates_the_rides_tables_and_downgrade_removes_them(
        empty_database_url: str) -> None:
    upgrade(empty_database_url)
    assert _inspect(empty_database_url, _tables) >= RIDES_TABLES

    downgrade(empty_database_url, "0002_chat")
    assert not RIDES_TABLES & _inspect(empty_database_url, _tables)

    upgrade(empty_database_url)
    assert _inspect(empty_database_url, _tables) >= RIDES_TABLES


def test_the_migration_matches_the_models(empty_database_url: str) -> None:
    upgrade(empty_database_url)

    assert _inspect(empty_database_url, _drift) == []
