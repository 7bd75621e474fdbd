"""The gateway's own tables (prefix ``gw_``) and its request-scoped session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from services.common.db import naming_metadata, request_sessionmaker, session_scope
from services.common.stale_reads import request_writes


class Base(DeclarativeBase):
    metadata = naming_metadata()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request_sessionmaker(request.app.state,
                                            request_writes(request))) as session:
        yield session


# Commits when the route returns, before the response is sent (see services.common.deps).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
