"""Request-scoped dependencies shared by the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import session_scope

# Requests with these methods only read; any other is expected to write.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # A service's write is short and calls nothing else, so on SQLite it can hold the
    # write lock from its first statement (services.common.db.writing_first).
    writes = request.method not in SAFE_METHODS
    async with session_scope(request.app.state.sessionmaker, writes=writes) as session:
        yield session


# scope="function": the session commits when the route returns, before the response
# is sent, so a failed commit becomes an error response rather than a lost write.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
