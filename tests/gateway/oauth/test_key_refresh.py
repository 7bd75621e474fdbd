"""Rotating signing keys on a running system: `agentgate rotate-keys`, then every replica follows.

The command writes a new current key to the shared database; each gateway reloads
its keys periodically (``keep_keys_fresh``), signs new tokens with the new key and
keeps the retired one published for the overlap, so tokens already in flight verify.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from gateway import cli
from gateway.oauth.keys import KeyStore, reload_keys, rotate_keys
from seeds.agents import TRIP_PLANNER_GRANT
from services.common.db import make_engine, make_sessionmaker
from tests.support.agents import bearer, mint_access_token


async def _published_kids(database_url: str, purpose: str) -> tuple[str, set[str]]:
    engine = make_engine(database_url)
    try:
        store = KeyStore(purpose)
        await store.load(make_sessionmaker(engine))
    finally:
        await engine.dispose()
    assert store.current is not None
    return store.current.kid or "", {k["kid"] for k in store.jwks()["keys"]}


def test_rotate_keys_makes_a_new_key_current_and_keeps_the_old_one_published(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AGENTGATE_DATABASE_URL", database_url)
    before, _ = asyncio.run(_published_kids(database_url, "access"))

    assert cli.main(["rotate-keys", "--purpose", "access"]) == 0

    after, published = asyncio.run(_published_kids(database_url, "access"))
    assert after != before
    assert {before, after} <= published
    assert f"access: new signing key {after}" in capsys.readouterr().out
    txn_before, _ = asyncio.run(_published_kids(database_url, "txn"))
    assert cli.main(["rotate-keys", "--purpose", "txn"]) == 0
    assert asyncio.run(_published_kids(database_url, "txn"))[0] != txn_before


async def test_a_replica_follows_a_rotation_and_tokens_in_flight_keep_working(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    keys: KeyStore = gateway_app.state.access_keys
    in_flight = await mint_access_token(gateway_app, TRIP_PLANNER_GRANT)
    old_kid = keys.current.kid if keys.current else None

    # Another process rotates; this replica's periodic reload picks it up.
    new_kid = (await rotate_keys(gateway_app.state.sessionmaker, ["access"]))["access"]
    await reload_keys(gateway_app.state.sessionmaker, [keys])

    assert keys.current is not None
    assert keys.current.kid == new_kid != old_kid
    fresh = await mint_access_token(gateway_app, TRIP_PLANNER_GRANT)
    published = {k["kid"] for k in (await client.get("/oauth/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= published
    for token in (in_flight, fresh):
        response = await client.get("/api/chat/channels", headers=bearer(token))
        assert response.status_code == 200, response.text
