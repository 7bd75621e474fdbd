"""The chain: it verifies, it shows tampering, and it stays whole under concurrent writers."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.activity.chain import GENESIS, HASHED_FIELDS, entry_hash
from gateway.activity.models import ActivityEntry
from gateway.activity.recorder import ActivityRecorder
from gateway.activity.verify import verify_chain
from gateway.cli import main
from services.common.db import is_sqlite, make_engine, make_sessionmaker, utcnow
from tests.gateway.activity.conftest import entries
from tests.support.databases import PostgresDatabase
from tests.support.web import sign_in


def _row(n: int) -> dict[str, Any]:
    return {"at": utcnow(), "user_id": uuid.uuid4(), "via": "session", "actors": [],
            "agent_sub": None, "service": "chat", "operation_id": "list_channels",
            "method": "GET", "path": "/channels", "effects": "live", "status": 200,
            "problem_type": None, "summary": f"Someone listed {n} channels",
            "request_id": f"req-{n}"}


async def _recorded(database_url: str, count: int) -> AsyncEngine:
    """An engine on ``database_url`` whose chain holds ``count`` entries."""
    engine = make_engine(database_url)
    await ActivityRecorder(make_sessionmaker(engine)).append([_row(n) for n in range(count)])
    return engine


async def _raw(engine: AsyncEngine, *statements: str) -> None:
    """Tamper as the table's owner could (on PostgreSQL, getting the trigger out of the way).

    The trigger is disabled and enabled again in the same transaction: the database
    outlives this test, and the next one must find the table append-only again.
    """
    postgres = not is_sqlite(str(engine.url))
    async with engine.begin() as conn:
        if postgres:
            await conn.execute(sa.text(
                "ALTER TABLE gw_activity DISABLE TRIGGER gw_activity_append_only"))
        for statement in statements:
            await conn.execute(sa.text(statement))
        if postgres:
            await conn.execute(sa.text(
                "ALTER TABLE gw_activity ENABLE TRIGGER gw_activity_append_only"))


async def test_an_untouched_chain_verifies(database_url: str) -> None:
    engine = await _recorded(database_url, 5)
    try:
        verdict = await verify_chain(make_sessionmaker(engine))
    finally:
        await engine.dispose()

    assert (verdict.ok, verdict.count) == (True, 5)
    assert str(verdict) == "OK: 5 activity entries, chain intact"


async def test_an_empty_record_verifies(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        verdict = await verify_chain(make_sessionmaker(engine))
    finally:
        await engine.dispose()

    assert (verdict.ok, verdict.count) == (True, 0)


async def test_the_first_entry_links_to_genesis_and_each_to_the_one_before(
        database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        rows = await ActivityRecorder(make_sessionmaker(engine)).append(
            [_row(n) for n in range(3)])
    finally:
        await engine.dispose()

    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == GENESIS
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[2]["prev_hash"] == rows[1]["hash"]


@pytest.mark.parametrize(("tamper", "broken_at", "reason"), [
    ("UPDATE gw_activity SET summary = 'Nothing happened' WHERE seq = 3", 3, "edited"),
    ("UPDATE gw_activity SET status = 204 WHERE seq = 2", 2, "edited"),
    ("DELETE FROM gw_activity WHERE seq = 2", 2, "missing"),
    ("DELETE FROM gw_activity WHERE seq = 5", 5, "missing"),
])
async def test_tampering_is_found_at_the_first_broken_entry(
        database_url: str, tamper: str, broken_at: int, reason: str) -> None:
    engine = await _recorded(database_url, 5)
    try:
        await _raw(engine, tamper)
        verdict = await verify_chain(make_sessionmaker(engine))
    finally:
        await engine.dispose()

    assert not verdict.ok
    assert verdict.broken_seq == broken_at
    assert reason in verdict.reason


async def test_a_rehashed_edit_still_breaks_the_next_link(database_url: str) -> None:
    """Someone who edits an entry and recomputes its hash breaks the next entry's link."""
    engine = await _recorded(database_url, 3)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as db:
            entry = await db.get(ActivityEntry, 2)
            assert entry is not None
            fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
        fields["summary"] = "Nothing happened"
        await _raw(engine, f"UPDATE gw_activity SET summary = 'Nothing happened', "
                           f"hash = '{entry_hash(fields)}' WHERE seq = 2")
        verdict = await verify_chain(sessions)
    finally:
        await engine.dispose()

    assert (verdict.ok, verdict.broken_seq) == (False, 3)
    assert "prev_hash" in verdict.reason


@pytest.mark.postgres
async def test_postgres_refuses_updates_and_deletes(postgres_db: PostgresDatabase) -> None:
    # The append-only trigger is PostgreSQL's; SQLite has only the code's discipline.
    postgres_db.truncate_all()
    engine = await _recorded(postgres_db.url, 2)
    try:
        for statement in ("UPDATE gw_activity SET summary = 'x' WHERE seq = 1",
                          "DELETE FROM gw_activity WHERE seq = 2"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(sa.text(statement))
        verdict = await verify_chain(make_sessionmaker(engine))
    finally:
        await engine.dispose()

    assert (verdict.ok, verdict.count) == (True, 2)


async def test_concurrent_writers_keep_one_chain(database_url: str) -> None:
    """Several gateway replicas (one writer each) appending at once serialize on the head."""
    engine = make_engine(database_url)
    try:
        writers = [ActivityRecorder(make_sessionmaker(engine)) for _ in range(6)]
        await asyncio.gather(*(w.append([_row(i * 10 + n) for n in range(5)])
                               for i, w in enumerate(writers) for _ in range(2)))
        verdict = await verify_chain(make_sessionmaker(engine))
    finally:
        await engine.dispose()

    assert verdict.ok, str(verdict)
    assert verdict.count == 60


async def test_thirty_concurrent_calls_leave_a_valid_chain(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    """Thirty calls at once: answered, refused and failed alike, all in one unbroken chain.

    Calls that write nothing in the services: on SQLite, concurrent chat reads that
    mark read (a read-then-write transaction) already collide with each other in the
    chat service, which is not what this test is about.
    """
    await sign_in(client, "alice")
    paths = ["/api/rides/places?q=a", "/api/rides/trips", "/api/rides/places",
             "/api/chat/no-such-thing", f"/api/rides/trips/{uuid.uuid4()}"]

    responses = await asyncio.gather(*(client.get(paths[n % len(paths)]) for n in range(30)))

    assert sorted({r.status_code for r in responses}) == [200, 404]
    recorded = await entries(gateway_app)
    assert len(recorded) == 30
    assert {e.request_id for e in recorded} == {r.headers["x-request-id"] for r in responses}
    verdict = await verify_chain(gateway_app.state.sessionmaker)
    assert (verdict.ok, verdict.count) == (True, 30)


async def test_the_cli_says_ok_or_names_the_broken_entry(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    engine = await _recorded(database_url, 4)
    monkeypatch.setenv("AGENTGATE_DATABASE_URL", database_url)
    try:
        assert await asyncio.to_thread(main, ["activity", "verify"]) == 0
        assert "OK: 4 activity entries" in capsys.readouterr().out

        await _raw(engine, "UPDATE gw_activity SET summary = 'Nothing to see' WHERE seq = 3")
        assert await asyncio.to_thread(main, ["activity", "verify"]) == 1
        assert "BROKEN at entry 3" in capsys.readouterr().out
    finally:
        await engine.dispose()
