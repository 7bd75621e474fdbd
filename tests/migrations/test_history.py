"""The whole migration history: it matches the models, and it goes down and up again.

Tests build their schema with Alembic, never ``create_all``; this is the check that
the two agree, so a model change without its migration fails here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.migrate import downgrade, upgrade
from gateway.models import Base as GatewayBase
from services.chat.models import Base as ChatBase
from services.rides.models import Base as RidesBase

METADATA = [GatewayBase.metadata, ChatBase.metadata, RidesBase.metadata]
# What migration 0002 makes by hand for full-text search, which no model maps:
# SQLite's FTS5 table (and its shadow tables), PostgreSQL's GIN expression index.
HAND_MADE = ("chat_messages_fts", "ix_chat_messages_search")


def sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def _names_in(diff: Any) -> list[str]:
    """The names of the tables and indexes an autogenerate diff talks about."""
    names = []
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item:
            for candidate in (part, getattr(part, "table", None)):
                name = getattr(candidate, "name", None)
                if isinstance(name, str):
                    names.append(name)
    return names


def schema_differences(url: str) -> list[Any]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, METADATA)
    finally:
        engine.dispose()
    return [d for d in diffs
            if not any(n.startswith(HAND_MADE) for n in _names_in(d))]


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return {n for n in sa.inspect(conn).get_table_names() if n != "alembic_version"}
    finally:
        engine.dispose()


def test_migrations_match_the_models(database_url: str) -> None:
    assert schema_differences(database_url) == []


def test_history_downgrades_to_nothing_and_upgrades_again(database_url: str) -> None:
    before = table_names(database_url)
    assert {"gw_agents", "gw_grants", "chat_messages", "rides_trips"} <= before

    downgrade(database_url, "base")
    try:
        assert table_names(database_url) == set()
    finally:
        upgrade(database_url)

    assert table_names(database_url) == before
    assert schema_differences(database_url) == []
