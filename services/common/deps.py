"""Request-scoped dependencies shared by the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import request_sessionmaker, session_scope
from services.common.stale_reads import request_writes


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request_sessionmaker(request.app.state,
                                            request_writes(request))) as session:
        yield session


# scope="function": the session commits when the route returns, before the response
# is sent, so a failed commit becomes an error response rather than a lost write.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
