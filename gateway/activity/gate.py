"""Keeping the activity writer out of the services' way on SQLite.

SQLite has one writer at a time, and in WAL mode a transaction that read first and
then writes fails at once (``SQLITE_BUSY_SNAPSHOT``, which the busy timeout does not
retry) if another connection committed in between. A chat read that marks read is
such a transaction. With the activity writer committing in the background, any call
could hit that window; so on SQLite the writer takes the gate exclusively for its
batch (a millisecond or two) while calls share it. Calls queue behind a waiting
writer, so the writer is never starved; a batch covers every call queued, so under
load the pauses are one per batch, not one per call.

PostgreSQL needs none of this (row locks, no database-wide write lock): there the
gate is open and costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriterGate:
    """Many calls at once, or the activity writer alone (a writer-preferring RW lock)."""

    def __init__(self, *, exclusive: bool) -> None:
        self.exclusive = exclusive
        self._calls = 0
        self._writing = False
        self._writer_waiting = False
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        if not self.exclusive:
            yield
            return
        async with self._changed:
            await self._changed.wait_for(lambda: not (self._writing or self._writer_waiting))
            self._calls += 1
        try:
            yield
        finally:
            async with self._changed:
                self._calls -= 1
                self._changed.notify_all()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        if not self.exclusive:
            yield
            return
        async with self._changed:
            self._writer_waiting = True
            try:
                await self._changed.wait_for(lambda: self._calls == 0)
            finally:
                self._writer_waiting = False
            self._writing = True
        try:
            yield
        finally:
            async with self._changed:
                self._writing = False
                self._changed.notify_all()
