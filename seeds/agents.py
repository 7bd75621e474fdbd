"""Demo agents: what alice has connected, so the Connected agents page shows a real case.

- **Trip Planner** (a web app by Example Labs, client id hosted at
  trip-planner.example.com) may read alice's chat and her rides, in #design only.
- It handed part of its work to **Calendar Helper** (also by Example Labs): reading
  chat only, still in #design, as token exchange (RFC 8693) would have made it.

Ids are fixed (uuid5), so tests and the demo script can name them. ``load_agents``
does nothing if Trip Planner is already known; it flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent, Grant
from seeds.chat import channel_id
from seeds.people import PEOPLE

_NAMESPACE = uuid.UUID("9b7e2f10-4c3d-4a8e-b1f6-2e5d7c9a0b34")
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def seed_id(key: str) -> uuid.UUID:
    """Return the fixed id of a seeded agent or grant (``agent:trip-planner``)."""
    return uuid.uuid5(_NAMESPACE, key)


@dataclass(frozen=True)
class SeedAgent:
    key: str
    name: str
    client_id: str
    redirect_uri: str
    publisher: str = "Example Labs"
    kind: str = "web"

    @property
    def id(self) -> uuid.UUID:
        return seed_id(f"agent:{self.key}")

    def record(self, created_at: dt.datetime) -> Agent:
        """The agent as it would be after fetching its Client ID Metadata Document."""
        metadata = {"client_id": self.client_id, "client_name": self.name,
                    "redirect_uris": [self.redirect_uri],
                    "grant_types": ["authorization_code", "refresh_token", EXCHANGE],
                    "token_endpoint_auth_method": "none"}
        return Agent(id=self.id, client_id=self.client_id, name=self.name, kind=self.kind,
                     registration="metadata_document", publisher=self.publisher,
                     redirect_uris=metadata["redirect_uris"],
                     grant_types=metadata["grant_types"], token_endpoint_auth_method="none",
                     scope="chat:read chat:write rides:read rides:book",
                     client_metadata=metadata, created_at=created_at)


TRIP_PLANNER = SeedAgent(
    "trip-planner", "Trip Planner",
    client_id="https://trip-planner.example.com/oauth/client.json",
    redirect_uri="https://trip-planner.example.com/oauth/callback")
CALENDAR_HELPER = SeedAgent(
    "calendar-helper", "Calendar Helper",
    client_id="https://calendar-helper.example.com/oauth/client.json",
    redirect_uri="https://calendar-helper.example.com/oauth/callback")

TRIP_PLANNER_GRANT = seed_id("grant:alice:trip-planner")
CALENDAR_HELPER_GRANT = seed_id("grant:alice:trip-planner:calendar-helper")
DESIGN_ONLY = {"chat:channels": [str(channel_id("design"))]}


async def load_agents(session: AsyncSession, now: dt.datetime) -> None:
    """Load the demo agents and alice's grants to them."""
    if await session.get(Agent, TRIP_PLANNER.id) is not None:
        return
    alice = PEOPLE["alice"].id
    session.add_all([TRIP_PLANNER.record(now - dt.timedelta(days=9)),
                     CALENDAR_HELPER.record(now - dt.timedelta(days=20))])
    # Agents first: with no relationship() between them, the unit of work does not order
    # these inserts by their foreign keys.
    await session.flush()
    session.add(Grant(
        id=TRIP_PLANNER_GRANT, user_id=alice, agent_id=TRIP_PLANNER.id,
        scope="chat:read rides:read", constraints=DESIGN_ONLY,
        created_at=now - dt.timedelta(days=6), updated_at=now - dt.timedelta(days=6),
        last_used_at=now - dt.timedelta(hours=2)))
    await session.flush()
    session.add(Grant(
        id=CALENDAR_HELPER_GRANT, user_id=alice, agent_id=CALENDAR_HELPER.id,
        parent_id=TRIP_PLANNER_GRANT, scope="chat:read", constraints=DESIGN_ONLY,
        created_at=now - dt.timedelta(days=2), updated_at=now - dt.timedelta(days=2),
        last_used_at=now - dt.timedelta(hours=5)))
    await session.flush()
