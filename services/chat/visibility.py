"""Which channels one call can reach: the person's own view, narrowed by the token's constraint.

A person sees the public channels and the ones they are in. An agent acting for them
may be limited further, to the channels the person chose when connecting it: the
Txn-Token then carries ``constraints["chat:channels"]`` (channel ids). For such a
call, a channel outside the list behaves as if it did not exist: a 404 exactly like
a private channel the person is not in, and absent from lists, search, mentions and
threads. Nothing tells the caller the others are there.

A missing key means no limit; an empty list means no channel at all. An id that
names no channel simply matches nothing, so a constraint can only ever narrow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, true

from services.chat.people import caller_id
from services.common.problems import Forbidden
from services.common.txn_token import TxnContext

CHANNELS = "chat:channels"

# Declared in the service's OpenAPI (top-level ``x-constraints``), so the gateway's
# consent and agents pages can offer the choice without knowing chat: ``choices``
# names the operation that lists the values, and which fields are the id and label.
CONSTRAINTS: dict[str, dict[str, Any]] = {
    CHANNELS: {
        "description": "Only these channels",
        "detail": "The agent sees and uses only the channels and conversations chosen; "
                  "every other one behaves as if it did not exist.",
        "applies_to": ["chat:read", "chat:write", "chat:mark_read"],
        "choices": {"operation_id": "list_channels", "value": "id", "label": "title"},
    },
}


class OutsideChannelLimit(Forbidden):
    """A limited call tried to create or open a channel (it could never be on its list)."""

    def __init__(self) -> None:
        super().__init__("This access is limited to certain channels: it can't create or "
                         "open another one.", constraint=CHANNELS)


@dataclass(frozen=True)
class Viewer:
    """The person a call is for, and the channels the call may reach (None: no limit)."""

    user_id: uuid.UUID
    channels: frozenset[uuid.UUID] | None = None

    @classmethod
    def of(cls, ctx: TxnContext) -> Viewer:
        """Read the caller and their channel constraint from a verified Txn-Token."""
        listed = ctx.constraints.get(CHANNELS)
        if listed is None:
            return cls(caller_id(ctx))
        return cls(caller_id(ctx), frozenset(_ids(listed)))

    @property
    def is_limited(self) -> bool:
        return self.channels is not None

    def may_reach(self, channel_id: uuid.UUID) -> bool:
        return self.channels is None or channel_id in self.channels

    def within(self, column: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
        """A WHERE clause keeping only the channels this call may reach."""
        if self.channels is None:
            return true()
        return column.in_(self.channels)

    def refuse_new_channels(self) -> None:
        """A limited caller can't create channels: a new one could not be on its list."""
        if self.is_limited:
            raise OutsideChannelLimit()


def _ids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue  # names no channel: it reaches nothing
    return ids
