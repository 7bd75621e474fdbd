"""The hash chain: one canonical form of an entry, and the SHA-256 that links it to the last.

``hash = SHA-256(canonical JSON of the entry's fields, prev_hash included)``. The
canonical form follows the spirit of RFC 8785 (JSON Canonicalization Scheme): keys
sorted, no insignificant whitespace, UTF-8. Our values are strings, integers, null
and lists of small objects, so ``json.dumps(sort_keys=True, separators=(",", ":"))``
yields the same bytes; timestamps are ISO 8601 in UTC with microseconds, which both
SQLite and PostgreSQL store exactly.

One chain for the whole gateway, not one per person: appends are batched by a single
writer per process (gateway/activity/recorder.py), so the head's lock is taken once
per batch, not once per call, and contention stays negligible; in exchange the
verifier walks one sequence with no gaps, and a removed entry anywhere (or at the
end, against the head) is found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

GENESIS = "0" * 64

# The hashed fields, in no particular order (the canonical form sorts them).
HASHED_FIELDS = ("seq", "at", "user_id", "via", "actors", "agent_sub", "service",
                 "operation_id", "method", "path", "effects", "status", "problem_type",
                 "summary", "request_id", "prev_hash")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes an entry's hash covers."""
    doc = {name: _plain(fields[name]) for name in HASHED_FIELDS}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()
