"""Checking the chain: every entry's hash recomputed, every link and the head compared.

An edited entry no longer matches its own hash; a removed one leaves a gap in the
sequence and a ``prev_hash`` that names nothing; removed entries at the end leave
the head naming an entry that is gone. The first break found is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.activity.chain import GENESIS, HASHED_FIELDS, entry_hash
from gateway.activity.models import HEAD_ID, ActivityEntry, ActivityHead

PAGE = 1000


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    broken_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"OK: {self.count} activity entries, chain intact"
        return f"BROKEN at entry {self.broken_seq}: {self.reason} ({self.count} verified before it)"


async def verify_chain(sessionmaker: async_sessionmaker[AsyncSession]) -> Verdict:
    """Walk the whole chain, oldest first, in pages."""
    expected_seq, prev, count = 1, GENESIS, 0
    async with sessionmaker() as db:
        while True:
            page = (await db.scalars(
                select(ActivityEntry).where(ActivityEntry.seq >= expected_seq)
                .order_by(ActivityEntry.seq).limit(PAGE))).all()
            for entry in page:
                fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
                if entry.seq != expected_seq:
                    return Verdict(False, count, expected_seq,
                                   f"missing; the next entry present is {entry.seq}")
                if entry.prev_hash != prev:
                    return Verdict(False, count, entry.seq,
                                   "its prev_hash does not match the entry before it")
                if entry_hash(fields) != entry.hash:
                    return Verdict(False, count, entry.seq,
                                   "its contents do not match its hash (edited)")
                expected_seq, prev, count = entry.seq + 1, entry.hash, count + 1
            if len(page) < PAGE:
                break
        head = await db.get(ActivityHead, HEAD_ID)
    if head is not None and (head.seq, head.hash) != (count, prev):
        if head.seq > count:
            return Verdict(False, count, count + 1,
                           f"missing; the head says the newest entry is {head.seq}")
        return Verdict(False, count, head.seq, "the head does not match the newest entry")
    return Verdict(True, count)
