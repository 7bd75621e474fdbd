"""A read that had to write, refused by SQLite, runs once more as a writer's transaction.

A GET may write: a person's live read of chat moves their read mark and "last
seen". Its transaction begins as a plain read (``BEGIN``), so reads run side by
side. But under SQLite's WAL a transaction that began as a read may write only if
nothing was committed since its snapshot; otherwise SQLite refuses at once with
"database is locked" (SQLITE_BUSY_SNAPSHOT), whatever the busy timeout. Beginning
every live read ``IMMEDIATE`` would avoid that by queueing all of them behind the
one write lock: measured, that cost the person's live reads a third of their
throughput to save a few refusals.

So the refusal is retried instead: :class:`RetryStaleReads` runs the request once
more, this time with a writer's transaction (``BEGIN IMMEDIATE``, queued behind the
lock, :func:`request_writes`). That is safe because nothing of the first attempt
was kept (its transaction rolled back whole) and nothing was sent (the response
had not started), and it is bounded: one retry, and a writer's transaction can
wait for the lock but is not refused this way. Unsafe methods begin as writers
already; PostgreSQL never refuses like this.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.db import UNSAFE_METHODS
from services.common.problems import is_database_busy

logger = logging.getLogger(__name__)

RETRY_AS_WRITER = "retry_as_writer"  # in scope["state"]: this attempt begins as a writer


def request_writes(request: Request) -> bool:
    """Whether the request's transaction begins as a writer's (SQLite: IMMEDIATE)."""
    return request.method in UNSAFE_METHODS or bool(
        request.scope.get("state", {}).get(RETRY_AS_WRITER))


class RetryStaleReads:
    """ASGI middleware: retry a safe-method request once when SQLite refused its write."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        started = False

        async def recording_receive() -> Message:
            message = await receive()
            received.append(message)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, recording_receive, tracking_send)
        except Exception as exc:
            if started or not is_database_busy(exc):
                raise
            logger.info("%s %s: SQLite refused its write (stale read); once more as a writer",
                        scope["method"], scope["path"])
            scope.setdefault("state", {})[RETRY_AS_WRITER] = True
            await self.app(scope, _replaying(received, receive), send)


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the first attempt's messages again, then the real ones."""
    pending = list(received)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
