"""Migration 0002_chat upgrades and downgrades cleanly on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.migrate import downgrade, upgrade

CHAT_TABLES = {"chat_users", "chat_channels", "chat_members", "chat_messages", "chat_mentions"}


def chat_tables(url: str) -> set[str]:
    # Alembic runs its own event loop, so this test is synchronous, and so is its inspection.
    sync_url = url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    engine = sa.create_engine(sync_url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    return {n for n in names if n.startswith("chat_")}


def test_chat_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    assert chat_tables(database_url) >= CHAT_TABLES

    downgrade(database_url, "0001_gateway")
    try:
        # The FTS5 table and its shadow tables go too.
        assert chat_tables(database_url) == set()
    finally:
        upgrade(database_url)

    assert chat_tables(database_url) >= CHAT_TABLES
