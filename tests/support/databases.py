"""Test databases: every data-touching test runs on SQLite and on PostgreSQL.

The schema is always built by Alembic (never ``create_all``), so a missing
migration fails a test. Each backend is migrated once per session; each test then
gets a fresh copy (SQLite: a copied file; PostgreSQL: truncated tables).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_DSN = os.environ.get("AGENTGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip with a reason locally; fail under CI=true, where every backend must run."""
    if in_ci():
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _psycopg():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg


def postgres_available() -> str | None:
    """Return None if PostgreSQL answers, else why not."""
    try:
        with _psycopg().connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_DSN} is not reachable: {exc}"


class PostgresDatabase:
    """A throwaway database on the test server, migrated once."""

    def __init__(self) -> None:
        self.name = f"agentgate_test_{uuid.uuid4().hex[:10]}"
        base = PG_ADMIN_DSN.rsplit("/", 1)[0]
        self.dsn = f"{base}/{self.name}"
        self.url = self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    def create(self) -> None:
        with _psycopg().connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with _psycopg().connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def truncate_all(self) -> None:
        with _psycopg().connect(self.dsn, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )]
            if tables:
                names = ", ".join(f'"{t}"' for t in tables)
                conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


class SqliteTemplate:
    """A migrated SQLite file; each test gets its own copy."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        self.url = f"sqlite+aiosqlite:///{self.path}"

    def copy_to(self, directory: Path) -> str:
        target = directory / "test.db"
        shutil.copyfile(self.path, target)
        return f"sqlite+aiosqlite:///{target}"


def migrated_postgres() -> Iterator[PostgresDatabase]:
    from gateway.migrate import upgrade

    why = postgres_available()
    if why:
        unavailable(why)
    db = PostgresDatabase()
    db.create()
    try:
        upgrade(db.url)
        yield db
    finally:
        db.drop()
