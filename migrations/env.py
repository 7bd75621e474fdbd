"""Alembic environment: one history for the gateway's and every service's tables.

Each component keeps its own ``MetaData`` (and table prefix); autogenerate compares
the database against all of them.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from gateway.models import Base as GatewayBase
from services.chat.models import Base as ChatBase
from services.rides.models import Base as RidesBase

config = context.config
target_metadata = [GatewayBase.metadata, ChatBase.metadata, RidesBase.metadata]


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from gateway.config import Settings

    return os.environ.get("AGENTGATE_DATABASE_URL") or Settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    # render_as_batch: SQLite can't ALTER most things; batch mode rebuilds the table.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connectable = async_engine_from_config(
        {"sqlalchemy.url": database_url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
