"""Database plumbing every component shares: typed columns, engines, the session boundary.

Each component (the gateway, each service) has its own ``Base`` and so its own
tables; they may share one database server, never one table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def naming_metadata() -> MetaData:
    """Return a MetaData with our constraint naming convention (Alembic needs stable names)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


SQLITE_IMMEDIATE = "agentgate_sqlite_immediate"
# Execution options for a session that will write: ``session.connection(execution_options=
# WRITE_TRANSACTION)`` before its first statement.
WRITE_TRANSACTION = {SQLITE_IMMEDIATE: True}


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control away from the sqlite3 module, which would
            # otherwise begin late and commit on its own around SAVEPOINTs, breaking
            # all-or-nothing requests (SQLAlchemy's documented SQLite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # BEGIN IMMEDIATE for transactions that will write (WRITE_TRANSACTION): they
            # queue for the write lock up front (busy_timeout) rather than upgrading a
            # read snapshot later, which SQLite refuses at once under WAL (SQLITE_BUSY).
            immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine, *,
                     writes: bool = False) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; ``writes=True``: for requests that write (SQLite: IMMEDIATE)."""
    bind = engine.execution_options(**WRITE_TRANSACTION) if writes else engine
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def request_sessionmaker(state: Any, writes: bool) -> async_sessionmaker[AsyncSession]:
    """The app's sessionmaker for a request: one whose transactions write, if ``writes``.

    On SQLite a transaction that reads and then writes fails at once ("database is
    locked") when another connection wrote in between; one that begins IMMEDIATE
    queues for the write lock instead. Reads keep plain BEGIN (no lock). No effect on
    PostgreSQL. ``writes``: an unsafe method, or a read retried as a writer
    (services/common/stale_reads.py, ``request_writes``).
    """
    factory: async_sessionmaker[AsyncSession] = (
        state.write_sessionmaker if writes else state.sessionmaker)
    return factory


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A request-scoped session: commit on success, roll back on error.

    Services and repositories flush; only this boundary commits. It is a context
    manager, not a bare generator, so a dependency that wraps it with ``async with``
    passes the route's exception in: re-yielding from ``async for`` would leave this
    generator suspended, its connection held until garbage collection.
    """
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
