"""Refuse text with NUL characters (U+0000) before any code or database sees it.

PostgreSQL's text types cannot hold NUL, so such input would fail deep inside a
query (a 500 on PostgreSQL) while SQLite stored it: the same request must get the
same answer on every backend. JSON may carry NUL only as the escape ``\\u0000``,
forms and query strings only as ``%00``; a raw NUL byte is invalid JSON and fails
parsing on its own.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import Problem

# \u0000 preceded by an even number of backslashes (an odd number escapes the backslash).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_ENCODED_NUL = b"%00"


class NulCharacter(Problem):
    def __init__(self, where: str) -> None:
        super().__init__(422, "validation-error",
                         f"The {where} contains a NUL character (U+0000), which no text may hold.")


def _form_has_nul(body: bytes) -> bool:
    return _ENCODED_NUL in body


def _json_has_nul(body: bytes) -> bool:
    return _JSON_NUL.search(body) is not None


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return b""


class RejectNulMiddleware:
    """A pure ASGI middleware: checks the path, the query string and JSON or form bodies.

    The body is checked when its last chunk arrives (so an escape split across
    chunks is still seen); raising a :class:`Problem` from ``receive`` lets the
    app's problem handler answer, whichever route was reading.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = None
        if "\x00" in scope["path"]:
            where = "path"
        elif _ENCODED_NUL in scope.get("query_string", b""):
            where = "query string"
        if where is not None:
            await NulCharacter(where).response(instance=scope["path"])(scope, receive, send)
            return
        content_type = _content_type(scope)
        if content_type == b"application/x-www-form-urlencoded":
            found = _form_has_nul
        elif content_type == b"application/json" or content_type.endswith(b"+json"):
            found = _json_has_nul
        else:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def checked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and found(b"".join(chunks)):
                    raise NulCharacter("body")
            return message

        await self.app(scope, checked_receive, send)
