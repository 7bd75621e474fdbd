"""Load the demo data into an empty, migrated database: people, chat history, rides, agents."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.identity.models import User
from seeds.agents import load_agents
from seeds.chat import load_chat
from seeds.rides import load_rides
from seeds.users import load_users
from services.common.db import make_engine, make_sessionmaker, utcnow


async def seed(database_url: str) -> bool:
    """Seed once: return False (and change nothing) if there are people already."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            if await session.scalar(select(func.count()).select_from(User)):
                return False
            await load_users(session)
            await load_chat(session)
            await load_rides(session, utcnow())
            await load_agents(session, utcnow())
        return True
    finally:
        await engine.dispose()
