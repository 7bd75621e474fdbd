"""Seed the gateway's people (with Argon2 hashes of the documented demo passwords)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import User
from gateway.identity.passwords import hash_password
from seeds.people import PEOPLE


async def load_users(session: AsyncSession) -> None:
    for person in PEOPLE.values():
        session.add(User(id=person.id, username=person.username,
                         display_name=person.display_name, email=person.email,
                         password_hash=hash_password(person.password)))
    await session.flush()
