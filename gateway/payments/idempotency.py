"""Idempotency-Key for paid calls (draft-ietf-httpapi-idempotency-key-header-07).

A caller that retries a paid call with the same key gets the first call's answer
again instead of paying twice::

    started = await store.begin(owner, key, fingerprint(...))   # or a Replay
    response = await call()
    await store.finish(started, response.status, response.headers, response.content)

:func:`run_idempotently` does exactly that, with the error paths. Each key belongs to
one person *and* one agent (:func:`owner_of`), so no agent can replay another's
answers. The store keeps its own short transactions, never the request's session:
the in-flight record must be visible to a concurrent retry before the call runs,
and the stored answer must survive the request's rollback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from sqlalchemy import CursorResult, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.payments.models import IdempotencyRecord
from services.common.db import utcnow
from services.common.problems import Problem

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# Header names are lower case in our response dicts, as the proxy keeps them.
REPLAYED_HEADER = "idempotent-replayed"

# Section 2.3: the server publishes how long it keeps keys; the issue asks for a day.
MINIMUM_TTL = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255  # the column's length

# Response headers worth replaying. Anything else (Set-Cookie, Date, Server-Timing,
# the request id) belongs to the first exchange, or must never be served twice.
STORED_HEADERS = frozenset(
    {
        "content-type",
        "location",
        "retry-after",
        "preference-applied",
        "vary",
        "etag",
        "payment-receipt",
        "link",
    }
)

# A key inside an sf-string: visible ASCII, backslash escapes only for \" and \\
# (RFC 8941 section 3.3.3). Spaces are legal in an sf-string but not in our keys.
_SF_STRING = re.compile(r'"((?:[\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_ESCAPE = re.compile(r'\\(["\\])')
# A bare key: visible ASCII without the characters that would make it a string, a
# list or a parameterised item if it were parsed as a Structured Field.
_BARE_KEY = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")

logger = logging.getLogger("agentgate.payments.idempotency")


def parse_idempotency_key(value: str | None) -> str:
    """Return the key of an Idempotency-Key header, or raise a 400 problem (section 2.7).

    The draft makes the field an sf-string (``Idempotency-Key: "8e03978e"``); many
    clients send the bare key, so that is accepted too.
    """
    text = (value or "").strip(" \t")
    if not text:
        raise Problem(
            400,
            "idempotency-key-missing",
            "Paid calls need an Idempotency-Key header: a unique string per call, "
            'such as a random UUID in quotes (Idempotency-Key: "<uuid>"), reused '
            "only to retry that same call.",
        )
    quoted = _SF_STRING.fullmatch(text)
    if quoted:
        key = _ESCAPE.sub(r"\1", quoted.group(1))
    elif _BARE_KEY.fullmatch(text):
        key = text
    else:
        key = ""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(
            400,
            "idempotency-key-malformed",
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters, "
            'in quotes (Idempotency-Key: "<key>"), with no spaces or parameters.',
        )
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """Return the SHA-256 hex digest that tells one request from another (section 2.4).

    A JSON body is hashed in canonical form (sorted keys, no whitespace), so a
    client that re-serialises its retry still matches; any other body is hashed
    as sent. Each part is length-prefixed, so no two requests run together.
    """
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), _canonical(body)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or nested past parsing): as sent
        return b"raw:" + body
    return (
        b"json:"
        + json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


def owner_of(user_id: uuid.UUID | str, client_id: str | None) -> str:
    """Return who a key belongs to: the person, and the agent acting (or ``person``).

    The draft's Security Considerations ask for a composite lookup key, so that one
    client cannot fetch another's stored answers by guessing its keys.
    """
    return f"{user_id}:{client_id or 'person'}"


def storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the headers of ``headers`` that a replay may repeat, names in lower case."""
    return {
        name.lower(): value for name, value in headers.items() if name.lower() in STORED_HEADERS
    }


class ResponseLike(Protocol):
    """What a paid call answers with (the proxy's ``Upstream`` is one)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


@dataclass(frozen=True)
class StoredResponse:
    """An answer as :func:`run_idempotently` gives it back, first time or replayed."""

    status: int
    headers: dict[str, str]
    content: bytes


@dataclass(frozen=True)
class Started:
    """This request holds the key and must :meth:`~IdempotencyStore.finish` it.

    ``attempt`` is the record's id for this attempt only: a takeover gives the record
    a new id, so an attempt presumed crashed that wakes up can no longer store or
    delete anything (a fencing token).
    """

    owner: str
    key: str
    fingerprint: str
    attempt: uuid.UUID


@dataclass(frozen=True)
class Replay:
    """The key was used for this same request before; here is what it answered."""

    status: int
    headers: dict[str, str]
    body: bytes


class IdempotencyStore:
    """Idempotency records in ``gw_idempotency_keys``, each change in its own transaction.

    Correctness under concurrency rests on two statements that only one writer can
    win on SQLite and PostgreSQL alike: the INSERT (the unique ``(owner, key)``
    constraint) and the takeover's conditional UPDATE of the attempt id it saw.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        ttl: dt.timedelta = MINIMUM_TTL,
        lock_seconds: float = 60,
    ) -> None:
        if ttl < MINIMUM_TTL:
            raise ValueError(f"keys must last at least {MINIMUM_TTL}; got {ttl}")
        self._sessionmaker = sessionmaker
        self.ttl = ttl
        self.lock = dt.timedelta(seconds=lock_seconds)

    async def begin(
        self, owner: str, key: str, fingerprint: str, *, now: dt.datetime | None = None
    ) -> Started | Replay:
        """Claim the key for this request, or say why not (section 2.6 and 2.7).

        Raises a 409 problem while another request holds the key and a 422 problem
        when the key was used for a different request.
        """
        now = now or utcnow()
        # A lost race re-reads and decides again; three rounds cover a record that
        # is deleted or taken over between our statements.
        for _ in range(3):
            if started := await self._insert(owner, key, fingerprint, now):
                return started
            record = await self._load(owner, key)
            if record is None:  # finished with a 5xx or abandoned meanwhile
                continue
            if _may_take_over(record, fingerprint, now):
                if started := await self._take_over(record, fingerprint, now):
                    return started
                continue
            if record.fingerprint != fingerprint:
                raise _reused(key)
            if record.status_code is None:
                raise _in_use(key, record.locked_until - now)
            return Replay(record.status_code, dict(record.headers), record.body)
        raise _in_use(key, self.lock)

    async def finish(
        self,
        started: Started,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime | None = None,
    ) -> bool:
        """Store the answer for replays; return whether it was stored.

        A 5xx is not stored: it says the call did not complete, so the record goes
        and a retry runs the call again (section 2.6 replays completed results only).
        An attempt that was taken over after its lock ran out stores nothing.
        """
        if status >= 500:
            await self.abandon(started)
            return False
        now = now or utcnow()
        async with self._sessionmaker() as session, session.begin():
            result = await _execute(
                session,
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == started.attempt, IdempotencyRecord.status_code.is_(None)
                )
                .values(
                    status_code=status,
                    headers=storable_headers(headers),
                    body=body,
                    locked_until=now,
                    expires_at=now + self.ttl,
                ),
            )
        if result.rowcount != 1:
            logger.warning(
                "idempotency key %r of %s was taken over before it finished; "
                "its answer (%d) is not stored",
                started.key,
                started.owner,
                status,
            )
        return result.rowcount == 1

    async def abandon(self, started: Started) -> None:
        """Release the key without an answer (the call failed): a retry runs again."""
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == started.attempt, IdempotencyRecord.status_code.is_(None)
                )
            )

    async def prune(self, now: dt.datetime | None = None) -> int:
        """Delete expired records nobody holds; return how many went."""
        now = now or utcnow()
        due = (IdempotencyRecord.expires_at <= now, IdempotencyRecord.locked_until <= now)
        # Look before deleting: this runs every minute, and on SQLite a DELETE takes the
        # database's write lock even when nothing matches, failing any request that is
        # between its read and its write at that moment ("database is locked").
        async with self._sessionmaker() as session:
            if await session.scalar(select(IdempotencyRecord.id).where(*due).limit(1)) is None:
                return 0
        async with self._sessionmaker() as session, session.begin():
            result = await _execute(session, delete(IdempotencyRecord).where(*due))
        return result.rowcount

    async def _insert(
        self, owner: str, key: str, fingerprint: str, now: dt.datetime
    ) -> Started | None:
        attempt = uuid.uuid4()
        try:
            async with self._sessionmaker() as session, session.begin():
                await session.execute(
                    insert(IdempotencyRecord).values(
                        id=attempt,
                        owner=owner,
                        key=key,
                        fingerprint=fingerprint,
                        status_code=None,
                        headers={},
                        body=b"",
                        created_at=now,
                        locked_until=now + self.lock,
                        expires_at=now + self.ttl,
                    )
                )
        except IntegrityError:  # the key exists: the caller decides what it means
            return None
        return Started(owner, key, fingerprint, attempt)

    async def _load(self, owner: str, key: str) -> IdempotencyRecord | None:
        async with self._sessionmaker() as session:
            return await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.owner == owner, IdempotencyRecord.key == key
                )
            )

    async def _take_over(
        self, seen: IdempotencyRecord, fingerprint: str, now: dt.datetime
    ) -> Started | None:
        attempt = uuid.uuid4()
        # Conditional on the attempt id we read and on the takeover rule still holding:
        # of two takers, the second's UPDATE finds the id changed (PostgreSQL re-checks
        # the row after the first commits; SQLite runs one writer at a time).
        async with self._sessionmaker() as session, session.begin():
            result = await _execute(
                session,
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == seen.id, _takeable(now))
                .values(
                    id=attempt,
                    fingerprint=fingerprint,
                    status_code=None,
                    headers={},
                    body=b"",
                    created_at=now,
                    locked_until=now + self.lock,
                    expires_at=now + self.ttl,
                ),
            )
        if result.rowcount != 1:
            return None
        logger.info(
            "idempotency key %r of %s taken over (%s)",
            seen.key,
            seen.owner,
            "expired" if seen.expires_at <= now else "left in flight",
        )
        return Started(seen.owner, seen.key, fingerprint, attempt)


def _may_take_over(record: IdempotencyRecord, fingerprint: str, now: dt.datetime) -> bool:
    """Nobody holds it, and it has expired or its request crashed before answering.

    A crashed request's key is only taken over by a retry of that same request; any
    other request with the key gets 422 until the record expires.
    """
    if record.locked_until > now:
        return False
    return record.expires_at <= now or (
        record.status_code is None and record.fingerprint == fingerprint
    )


def _takeable(now: dt.datetime) -> Any:
    """:func:`_may_take_over` in SQL, less the fingerprint (the seen id pins that)."""
    return and_(
        IdempotencyRecord.locked_until <= now,
        or_(IdempotencyRecord.expires_at <= now, IdempotencyRecord.status_code.is_(None)),
    )


async def _execute(session: AsyncSession, statement: Any) -> CursorResult[Any]:
    """Run an UPDATE or DELETE and return its result, whose ``rowcount`` we need."""
    result: CursorResult[Any] = await session.execute(statement)  # type: ignore[assignment]
    return result


def _in_use(key: str, remaining: dt.timedelta) -> Problem:
    # The first request usually answers within a second or two; the lock's full
    # length is only the worst case (a crash), so suggest a short wait.
    seconds = max(1, min(2, math.ceil(remaining.total_seconds())))
    return Problem(
        409,
        "idempotency-key-in-use",
        f"A request with Idempotency-Key {key!r} is still being processed. "
        "Retry after it answers to get its response.",
        headers={"Retry-After": str(seconds)},
    )


def _reused(key: str) -> Problem:
    return Problem(
        422,
        "idempotency-key-reused",
        f"Idempotency-Key {key!r} was already used for a different request. "
        "Use a new key for a new request.",
    )


async def run_idempotently(
    store: IdempotencyStore,
    owner: str,
    key: str,
    fingerprint: str,
    call: Callable[[], Awaitable[ResponseLike]],
    *,
    instance: str | None = None,
) -> StoredResponse:
    """Run ``call`` once per key; a retry gets the stored answer with Idempotent-Replayed.

    A :class:`Problem` below 500 that ``call`` raises is an answer too: it is stored
    as problem+json (with ``instance``, as the problem handler would render it) and
    re-raised, so the caller's error path runs; its replay comes back as a stored
    response. A 5xx or any other exception stores nothing, so a retry runs again.
    Nor does a refusal of the caller (401, 403: say, a token without payments:spend):
    the operation did not run, and the same call retried once the caller may make it
    (after a scope step-up) must run, not replay the refusal.
    """
    outcome = await store.begin(owner, key, fingerprint)
    if isinstance(outcome, Replay):
        return StoredResponse(
            outcome.status, {**outcome.headers, REPLAYED_HEADER: "true"}, outcome.body
        )
    try:
        response = await call()
    except Problem as problem:
        if problem.status >= 500 or problem.status in (401, 403):
            await _abandon(store, outcome)
            raise
        rendered = problem.response(instance)
        await store.finish(outcome, problem.status, rendered.headers, bytes(rendered.body))
        raise
    except BaseException:
        await _abandon(store, outcome)
        raise
    await store.finish(outcome, response.status, response.headers, response.content)
    return StoredResponse(response.status, storable_headers(response.headers), response.content)


async def _abandon(store: IdempotencyStore, started: Started) -> None:
    """Release the key while an exception propagates, even a cancellation."""
    with anyio.CancelScope(shield=True):
        try:
            await store.abandon(started)
        except Exception:  # the original error matters more; the lock runs out anyway
            logger.exception(
                "could not release idempotency key %r of %s", started.key, started.owner
            )
