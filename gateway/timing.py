"""Request ids and Server-Timing (W3C), measured per pipeline stage.

A pure ASGI middleware (not BaseHTTPMiddleware) so the stage timer, a context
variable, is shared with the route and its dependencies, and so it costs little.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-Id"

_stages: ContextVar[list[tuple[str, float]] | None] = ContextVar("stages", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time a block as a named stage of the current request."""
    start = time.perf_counter()
    try:
        yield
    finally:
        stages = _stages.get()
        if stages is not None:
            stages.append((name, (time.perf_counter() - start) * 1000))


def _render(stages: list[tuple[str, float]], total_ms: float) -> str:
    totals: dict[str, float] = {}
    for name, ms in stages:
        totals[name] = totals.get(name, 0.0) + ms
    parts = [f"{name};dur={ms:.2f}" for name, ms in totals.items()]
    parts.append(f"total;dur={total_ms:.2f}")
    return ", ".join(parts)


class TimingMiddleware:
    """Give every HTTP response an ``X-Request-Id`` and a ``Server-Timing`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        stages: list[tuple[str, float]] = []
        token = _stages.set(stages)
        start = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers["Server-Timing"] = _render(stages, (time.perf_counter() - start) * 1000)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _stages.reset(token)
