"""The activity record's tables: the entries of one hash chain, and the chain's head.

``gw_activity`` is append-only: no code path updates or deletes a row, and on
PostgreSQL a trigger (migration 0007) refuses UPDATE and DELETE outright. Each row
holds the hash of the one before it (``prev_hash``) and its own ``hash`` over a
canonical form of its fields (gateway/activity/chain.py), so an edited, removed or
reordered row breaks the chain where it happened.

``gw_activity_head`` is a single row: the sequence number and hash of the newest
entry. Writers lock it to append (the chain's one serialisation point), and the
verifier checks the newest entry against it, so removing entries from the tail
is detected as well.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime

HEAD_ID = 1


class ActivityEntry(Base):
    """One call through the gateway: who, as which agents, what, in which mode, and how it ended."""

    __tablename__ = "gw_activity"
    __table_args__ = (
        # The Activity page: one person's entries, newest first, optionally one agent's.
        Index("ix_gw_activity_user_id_seq", "user_id", "seq"),
        Index("ix_gw_activity_user_id_agent_sub_seq", "user_id", "agent_sub", "seq"),
    )

    # The position in the chain, assigned under the head's lock: 1, 2, 3... without gaps.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # None for an agent acting as itself (client credentials): no person is involved.
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    via: Mapped[str] = mapped_column(String(16))
    # The RFC 8693 act chain, the agent acting now first: [{"sub": ..., "name": ...}].
    actors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # actors[0].sub, kept apart so the page can filter by it; None when the person acted.
    agent_sub: Mapped[str | None] = mapped_column(String(255))
    service: Mapped[str] = mapped_column(String(64))
    operation_id: Mapped[str | None] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    # None when the call was refused before a mode was chosen.
    effects: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(SmallInteger)
    problem_type: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(String(500))
    request_id: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ActivityHead(Base):
    """The newest entry of the chain: the row appenders lock, and the verifier's anchor."""

    __tablename__ = "gw_activity_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
