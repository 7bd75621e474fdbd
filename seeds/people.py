"""The demo people. Their ids are fixed so every component's seed data agrees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

_NAMESPACE = uuid.UUID("6f1c2d7e-3a55-4c1e-9a9e-0a6e1f9b7c11")


@dataclass(frozen=True)
class SeedPerson:
    username: str
    display_name: str
    email: str
    password: str

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(_NAMESPACE, self.username)


# Demo passwords are documented in the README; they exist only in seeded databases.
PEOPLE: dict[str, SeedPerson] = {
    p.username: p
    for p in (
        SeedPerson("alice", "Alice Martin", "alice@example.com", "alice-demo-pw"),
        SeedPerson("bob", "Bob Chen", "bob@example.com", "bob-demo-pw"),
        SeedPerson("carol", "Carol Diaz", "carol@example.com", "carol-demo-pw"),
        SeedPerson("dave", "Dave Okafor", "dave@example.com", "dave-demo-pw"),
    )
}
