"""Load the demo data into an empty, migrated database: people, chat history, rides, agents, cards."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.identity.models import User
from seeds.agents import load_agents
from seeds.chat import load_chat
from seeds.payments import load_cards
from seeds.rides import load_rides
from seeds.users import load_users
from services.common.db import make_engine, make_sessionmaker, utcnow


async def seed(database_url: str) -> bool:
    """Seed once: return False (and change nothing) if there are people already."""
    engine = make_engine(database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            if await session.scalar(select(func.count()).select_from(User)):
                return False
            await load_users(session)
            await load_chat(session)
            await load_rides(session, utcnow())
            await load_agents(session, utcnow())
        # After the commit: saving a card runs the processor's own short transactions.
        await load_cards(sessionmaker)
        return True
    finally:
        await engine.dispose()
