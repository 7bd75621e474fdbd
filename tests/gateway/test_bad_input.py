"""Bad input through the gateway: always a 4xx problem+json, and nothing stored changes.

Each case is sent by a signed-in person, with a valid CSRF token, so only the input
itself is wrong. The whole database (every table of the gateway and of each service)
is compared before and after.
"""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tests.support import snapshots
from tests.support.web import sign_in

PROBLEM = "application/problem+json"
TABLES = [t for t in snapshots.GATEWAY_TABLES + snapshots.SERVICE_TABLES
          # The login throttle and sessions change by signing in, not by the calls here;
          # the activity record appends every call, refused ones too, by design
          # (tests/gateway/activity/test_record.py checks what it says).
          if t.name not in ("gw_web_sessions", "gw_login_failures", "gw_activity",
                            "gw_activity_head")]


async def snapshot(app: FastAPI) -> snapshots.Snapshot:
    return await snapshots.snapshot(app, TABLES)


async def channel_id(client: httpx.AsyncClient, name: str) -> str:
    channels = (await client.get("/api/chat/channels")).json()["items"]
    return str(next(c["id"] for c in channels if c["name"] == name))


# Cursors are opaque but forgeable: these carry a NUL inside their base64.
NUL_PLACE_CURSOR = base64.urlsafe_b64encode(
    b'{"name": "a\\u0000", "id": "00000000-0000-0000-0000-000000000001"}').decode()
NUL_USER_CURSOR = base64.urlsafe_b64encode(b"v1:bob\x00").decode()
UNKNOWN = str(uuid.UUID(int=7))
OTHER = str(uuid.UUID(int=8))
CASES: list[tuple[str, str, str, bytes | None, int]] = [
    # (what, method, path with {design}/{leadership}, raw JSON body, expected status)
    ("malformed JSON", "POST", "/api/chat/channels/{design}/messages", b'{"text": ', 400),
    ("not an object", "POST", "/api/chat/channels/{design}/messages", b'["hi"]', 422),
    ("wrong type", "POST", "/api/chat/channels/{design}/messages", b'{"text": 42}', 422),
    ("empty text", "POST", "/api/chat/channels/{design}/messages", b'{"text": ""}', 422),
    ("unknown channel", "POST", f"/api/chat/channels/{UNKNOWN}/messages", b'{"text": "hi"}', 404),
    ("malformed channel id", "GET", "/api/chat/channels/abc/messages", None, 422),
    ("reply to an unknown message", "POST", "/api/chat/channels/{design}/messages",
     b'{"text": "hi", "thread_id": 999999}', 422),
    ("someone else's private channel", "POST", "/api/chat/channels/{leadership}/messages",
     b'{"text": "hi"}', 404),
    ("reading someone else's private channel", "GET",
     "/api/chat/channels/{leadership}/messages", None, 404),
    ("channel with an unknown member", "POST", "/api/chat/channels",
     b'{"name": "new-one", "private": true, "usernames": ["nobody-here"]}', 422),
    ("quote from an unknown place", "POST", "/api/rides/quotes",
     json.dumps({"pickup_place_id": UNKNOWN, "dropoff_place_id": OTHER}).encode(), 404),
    ("an unknown field", "POST", "/api/rides/trips", b'{"quote_id": "x", "tip": 5}', 422),
    ("booking an unknown quote", "POST", "/api/rides/trips",
     json.dumps({"quote_id": UNKNOWN}).encode(), 404),
    ("malformed trip id", "GET", "/api/rides/trips/not-a-uuid", None, 422),
    ("cancelling an unknown trip", "POST", f"/api/rides/trips/{UNKNOWN}/cancel", b"{}", 404),
    ("a NUL character in text", "POST", "/api/chat/channels/{design}/messages",
     b'{"text": "hi\\u0000"}', 422),
    ("a NUL character in a username", "POST", "/api/chat/dms", b'{"usernames": ["a\\u0000"]}',
     422),
    ("a NUL character in a query", "GET", "/api/rides/places?q=%00", None, 422),
    ("a forged places cursor with NUL", "GET", f"/api/rides/places?cursor={NUL_PLACE_CURSOR}",
     None, 400),
    ("a forged people cursor with NUL", "GET", f"/api/chat/users?cursor={NUL_USER_CURSOR}",
     None, 400),
    ("oversized body", "POST", "/api/chat/channels/{design}/messages",
     b'{"text": "' + b"x" * 1_100_000 + b'"}', 413),
]


@pytest.mark.parametrize(("what", "method", "path", "body", "status"), CASES,
                         ids=[c[0] for c in CASES])
async def test_bad_input_is_a_4xx_problem_and_changes_nothing(
        client: httpx.AsyncClient, gateway_app: FastAPI, what: str, method: str, path: str,
        body: bytes | None, status: int) -> None:
    # bob is not in #leadership (alice and dave are), so it is "someone else's" for him.
    csrf = await sign_in(client, "bob")
    path = path.format(design=await channel_id(client, "design"),
                       leadership=await _leadership_id(gateway_app))
    before = await snapshot(gateway_app)

    response = await client.request(
        method, path, content=body,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("/problems/")
    assert await snapshot(gateway_app) == before


async def _leadership_id(app: FastAPI) -> str:
    from services.chat.models import Channel

    async with app.state.engine.connect() as conn:
        found = await conn.scalar(sa.select(Channel.id).where(Channel.name == "leadership"))
    return str(found)
