"""Recording every call: off the request path on PostgreSQL, group-committed on SQLite.

The pipeline hands each finished (or refused) call to :meth:`ActivityRecorder.record_call`.
Summaries are built and the entries appended to the hash chain in batches, each in
one transaction that holds the chain head's row lock (``UPDATE ... RETURNING`` on
the head row: a row lock on PostgreSQL, the write lock on SQLite, taken by the
transaction's first statement so two writers never read the same head).

PostgreSQL (``background=True``): ``record_call`` only appends to an in-memory
queue, so no database round trip is added before the response. One writer task
(started and stopped by the app's lifespan) writes whatever has queued up. What a
crash can lose: the calls queued but not yet written, at most the batch in flight
plus what arrived during it (normally milliseconds of traffic); a clean shutdown
drains the queue first. Tests call :meth:`flush` to wait for the writes.

SQLite (``background=False``): a background commit would break other transactions.
SQLite has one writer at a time, and in WAL mode a transaction that read first and
then writes fails at once (``SQLITE_BUSY_SNAPSHOT``, which the busy timeout does not
retry) if another connection committed in between; a chat read that marks read, a
login, a revocation all do that, and a writer committing a moment after each call
would meet the next one even when calls come one after another. So each call's
entry is written before its response (nothing can be lost), with group commit: the
first call to reach the writer's lock writes every entry queued behind it, and the
others find theirs written when they get the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.activity.chain import GENESIS, entry_hash
from gateway.activity.models import HEAD_ID, ActivityEntry, ActivityHead
from gateway.activity.summaries import ChannelTitles, Outcome, summarize
from gateway.policy.manifest import Operation
from gateway.principal import Principal
from services.common.db import utcnow
from services.common.problems import Problem

log = logging.getLogger(__name__)

MAX_BATCH = 500


@dataclass(frozen=True)
class Call:
    """One call as the pipeline saw it; turned into an entry by the writer."""

    at: dt.datetime
    principal: Principal
    service: str
    method: str
    path: str
    request_id: str
    operation: Operation | None
    effects: str | None
    status: int
    problem: Problem | None = None
    content_type: str = ""
    content: bytes = b""


class ActivityRecorder:
    """Turns the pipeline's calls into chained entries: in the background, or group-committed."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *,
                 background: bool = True) -> None:
        self.sessionmaker = sessionmaker
        self.background = background
        self.titles = ChannelTitles()
        self._queue: asyncio.Queue[Call] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # Group commit (SQLite): one writer at a time; the others' entries ride along.
        self._lock = asyncio.Lock()

    async def record_call(self, principal: Principal, method: str, service: str, path: str, *,
                          request_id: str, operation: Operation | None, effects: str | None,
                          status: int, headers: dict[str, str] | None = None,
                          content: bytes = b"", problem: Problem | None = None) -> None:
        """Record one call as the pipeline saw it (the pipeline's only hook). Never raises."""
        await self.record(Call(
            at=utcnow(), principal=principal, service=service, method=method, path=path,
            request_id=request_id, operation=operation, effects=effects, status=status,
            problem=problem, content_type=(headers or {}).get("content-type", ""),
            content=content))

    async def record(self, call: Call) -> None:
        """Queue ``call``; with group commit, return once its entry is written."""
        self._queue.put_nowait(call)
        if self.background:
            return
        async with self._lock:
            # Whoever held the lock before may already have written this call's entry.
            # Shielded: a caller that goes away must not cancel the others' entries.
            while not self._queue.empty():
                await asyncio.shield(self._write_batch(self._take()))

    def start(self) -> None:
        """Start the background writer (PostgreSQL); with group commit there is none."""
        if self.background and self._task is None:
            self._task = asyncio.create_task(self._run(), name="activity-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop the writer."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self) -> None:
        """Wait until every call recorded so far is written (or, without a writer, write it)."""
        if self._task is not None:
            await self._queue.join()
            return
        async with self._lock:
            while not self._queue.empty():
                await self._write_batch(self._take())

    def _take(self) -> list[Call]:
        batch: list[Call] = []
        while len(batch) < MAX_BATCH and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            batch += self._take()
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[Call]) -> None:
        try:
            await self.append([self._fields(call) for call in batch])
        except Exception:
            # The record must not take the gateway down with it; the loss is logged.
            log.exception("activity: %d entries could not be written", len(batch))
        finally:
            for _ in batch:
                self._queue.task_done()

    def _fields(self, call: Call) -> dict[str, Any]:
        principal = call.principal
        person = principal.user_id if principal.has_person else None
        operation = call.operation
        match = operation.pattern.match(call.path) if operation else None
        problem = call.problem
        missing = problem.extra.get("missing_scopes", []) if problem else []
        outcome = Outcome(
            actor=actor_name(principal), service=call.service,
            operation_id=operation.operation_id if operation else None,
            operation_summary=operation.summary if operation else "",
            method=call.method, path=call.path,
            path_params=match.groupdict() if match else {},
            effects=call.effects,
            on_read=tuple((operation.effects if operation else {}).get("on_read", [])),
            status=call.status, problem_slug=problem.slug if problem else None,
            problem_detail=problem.detail if problem else None,
            missing_scopes=tuple(missing), content_type=call.content_type, content=call.content)
        actors = [{"sub": a.sub, "name": a.name} for a in principal.actors]
        return {
            "at": call.at, "user_id": person, "via": principal.via, "actors": actors,
            "agent_sub": actors[0]["sub"] if actors else None, "service": call.service[:64],
            "operation_id": outcome.operation_id, "method": call.method[:10],
            "path": call.path[:2048], "effects": call.effects, "status": call.status,
            "problem_type": _problem_type(call), "summary": summarize(outcome, self.titles, person),
            "request_id": call.request_id[:128],
        }

    async def append(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append ``rows`` (entry fields without seq and hashes) to the chain, in order."""
        if not rows:
            return []
        async with self.sessionmaker() as db, db.begin():
            seq, prev = await _lock_head(db)
            for row in rows:
                seq += 1
                row["seq"], row["prev_hash"] = seq, prev
                row["hash"] = prev = entry_hash(row)
            await db.execute(insert(ActivityEntry), rows)
            await db.execute(update(ActivityHead).where(ActivityHead.id == HEAD_ID)
                             .values(seq=seq, hash=prev))
        return rows


async def _lock_head(db: AsyncSession) -> tuple[int, str]:
    """Lock the chain head for this transaction and return (seq, hash) of the newest entry."""
    touch = (update(ActivityHead).where(ActivityHead.id == HEAD_ID)
             .values(seq=ActivityHead.seq).returning(ActivityHead.seq, ActivityHead.hash))
    row = (await db.execute(touch)).first()
    if row is None:
        # The migration makes the head; an emptied table (tests truncate) makes it again.
        dialect_insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
        await db.execute(dialect_insert(ActivityHead)
                         .values(id=HEAD_ID, seq=0, hash=GENESIS).on_conflict_do_nothing())
        row = (await db.execute(touch)).first()
        assert row is not None
    return int(row[0]), str(row[1])


def actor_name(principal: Principal) -> str:
    """Who acted, for a sentence: the agent acting now, else the person."""
    if principal.actors:
        return principal.actors[0].name or "An agent"
    return principal.display_name


def _problem_type(call: Call) -> str | None:
    if call.problem is not None:
        return call.problem.slug
    if call.status >= 400 and call.content_type.startswith("application/problem+json"):
        try:
            doc = json.loads(call.content)
        except ValueError:
            return None
        value = doc.get("type") if isinstance(doc, dict) else None
        return str(value).rsplit("/", 1)[-1][:255] if value else None
    return None
