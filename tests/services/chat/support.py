"""What the chat tests share: the demo people, a hand-moved clock, and the API as people see it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from seeds.people import PEOPLE
from tests.support.txn import Person, ServiceCaller

ALL_SCOPES = ("chat:read", "chat:write", "chat:mark_read")


def seed_person(username: str) -> Person:
    p = PEOPLE[username]
    return Person(id=str(p.id), username=p.username, name=p.display_name)


ALICE, BOB, CAROL, DAVE = (seed_person(u) for u in ("alice", "bob", "carol", "dave"))


@dataclass
class Clock:
    """The service's clock, moved by hand."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Chat:
    """The chat API as people see it: requests as someone, plus factories for common set-ups."""

    def __init__(self, caller: ServiceCaller) -> None:
        self.caller = caller

    async def call(self, method: str, path: str, person: Person, *,
                   scopes: Iterable[str] = ALL_SCOPES, **kwargs: Any) -> httpx.Response:
        return await self.caller.request(method, path, person, scopes, **kwargs)

    async def get(self, path: str, person: Person, **kwargs: Any) -> httpx.Response:
        return await self.call("GET", path, person, **kwargs)

    async def post(self, path: str, person: Person, json: Any = None,
                   **kwargs: Any) -> httpx.Response:
        return await self.call("POST", path, person, json=json, **kwargs)

    async def ok(self, method: str, path: str, person: Person, **kwargs: Any) -> Any:
        """Call and return the JSON body, failing the test on any error status."""
        response = await self.call(method, path, person, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def introduce(self, *persons: Person) -> None:
        """Make people known to chat (their first call creates their profile)."""
        for person in persons:
            await self.ok("GET", "/users", person, effects="peek")

    async def channel(self, owner: Person, name: str, *, private: bool = False,
                      members: Iterable[Person] = ()) -> str:
        body = {"name": name, "private": private, "usernames": [m.username for m in members]}
        created = await self.ok("POST", "/channels", owner, json=body)
        return str(created["id"])

    async def say(self, person: Person, channel_id: str, text: str,
                  thread_id: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if thread_id is not None:
            body["thread_id"] = thread_id
        result: dict[str, Any] = await self.ok("POST", f"/channels/{channel_id}/messages",
                                               person, json=body)
        return result

    async def summary(self, person: Person, channel_id: str) -> dict[str, Any]:
        """The channel as the person sees it, counts included, without marking anything read."""
        result: dict[str, Any] = await self.ok("GET", f"/channels/{channel_id}", person,
                                               effects="peek")
        return result

    async def page(self, person: Person, channel_id: str, **kwargs: Any) -> dict[str, Any]:
        params = kwargs.pop("params", {})
        result: dict[str, Any] = await self.ok("GET", f"/channels/{channel_id}/messages", person,
                                               params=params, **kwargs)
        return result
