"""Request body size limit, enforced while the body streams in (not after)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import Problem


class PayloadTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "payload-too-large", f"The body may be at most {limit} bytes.",
                         max_bytes=limit)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes``: at once by Content-Length, else while reading.

    Raising a :class:`Problem` from ``receive`` lets the app's problem handler answer
    413, whichever route was reading the body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    problem = PayloadTooLarge(self.max_bytes).response(instance=scope["path"])
                    await problem(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
