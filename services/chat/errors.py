"""The chat service's domain errors (all rendered as problem+json by the shared handler).

A *path* that names nothing is a 404; a *body field* that names nothing is a 422,
because the request itself is what is wrong. A private channel you are not in is
a 404 too, never a 403, so its existence does not leak.
"""

from __future__ import annotations

from typing import Any

from services.common.problems import Forbidden, NotFound, Problem


class ChannelNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such channel.")


class MessageNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such message in this channel.")


class InvalidReference(Problem):
    """A body field names something that does not exist (or that the caller can't see)."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(422, "validation-error", detail, **extra)


class NotAMember(Forbidden):
    def __init__(self) -> None:
        super().__init__("Join the channel first.")
