"""SQL the ORM doesn't say portably."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_unless_exists(session: AsyncSession, model: type[Any]) -> Insert:
    """Return ``INSERT ... ON CONFLICT DO NOTHING`` for the session's database.

    Creating a row that a concurrent request may create first (a profile, a DM, a
    channel name) is then one statement: it inserts, or quietly does nothing, and the
    caller reads what is there. No exception, and no savepoint to recover from one.
    """
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing()
    return postgresql.insert(model).on_conflict_do_nothing()
