"""Keeping the activity writer out of the requests' way on SQLite.

SQLite has one writer at a time, and in WAL mode a transaction that read first and
then writes fails at once (``SQLITE_BUSY_SNAPSHOT``, which the busy timeout does not
retry) if another connection committed in between. Many requests do that (a chat
read that marks read, a login that clears its failures). A background writer
committing at an arbitrary moment would hit that window even when requests come
one after another, as a person's clicks (or a test's calls) do.

So on SQLite the writer waits for a quiet moment: no request in flight, or at most
``patience`` seconds (so a stream of requests, or a long one, can't starve it).
Once the gateway is quiet a waiting writer goes first, and while it writes (a
millisecond or two, for every call queued) new requests wait at the door. A request
arriving while others run simply joins them: no convoy forms behind the writer
under load. Requests that are already running when patience runs out may still
collide, exactly as they would with any other concurrent write on SQLite.

PostgreSQL needs none of this (row locks, no database-wide write lock): there the
gate is not installed and costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Receive, Scope, Send


class WriterGate:
    """Requests run side by side; the activity writer runs alone, between them."""

    def __init__(self, *, exclusive: bool, patience: float = 0.1) -> None:
        self.exclusive = exclusive
        self.patience = patience
        self._calls = 0
        self._writing = False
        self._writer_waiting = False
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Hold the gate open for one request."""
        async with self._changed:
            await self._changed.wait_for(self._open)
            self._calls += 1
        try:
            yield
        finally:
            async with self._changed:
                self._calls -= 1
                self._changed.notify_all()

    def _open(self) -> bool:
        # Quiet with a writer waiting: its turn (else the next request could always win
        # the race for the lock, and the writer would only ever go in after patience).
        return not self._writing and not (self._writer_waiting and self._calls == 0)

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Close the gate for one batch, after a quiet moment (unless ``urgent``)."""
        if not self.exclusive:
            yield
            return
        async with self._changed:
            if not urgent:
                self._writer_waiting = True
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._changed.wait_for(lambda: self._calls == 0), self.patience)
                finally:
                    self._writer_waiting = False
            self._writing = True
        try:
            yield
        finally:
            async with self._changed:
                self._writing = False
                self._changed.notify_all()


class GateMiddleware:
    """Pass every HTTP request through the writer's gate (installed on SQLite only)."""

    def __init__(self, app: ASGIApp, gate: WriterGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self.gate.call():
            await self.app(scope, receive, send)
