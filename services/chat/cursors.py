"""Opaque pagination cursors.

A cursor is the keyset position of the last item served (``id < 1234``), encoded so
clients treat it as a token rather than build their own. Keyset pagination stays
fast on the millionth page, unlike OFFSET, and never skips or repeats an item when
new messages arrive between pages.
"""

from __future__ import annotations

import base64
import binascii

from services.common.problems import BadRequest

_PREFIX = "v1:"
MAX_ID = 2**63 - 1  # a BIGINT; anything larger is a bad cursor, never a database error


def encode(key: str | int) -> str:
    """Return an opaque cursor for a keyset position."""
    raw = f"{_PREFIX}{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> str:
    """Return the keyset position inside ``cursor``; a malformed cursor is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("The cursor is not one this service issued.") from exc
    # A forged position with NUL would reach PostgreSQL, which can't hold it in text.
    if not raw.startswith(_PREFIX) or "\x00" in raw:
        raise BadRequest("The cursor is not one this service issued.")
    return raw[len(_PREFIX):]


def decode_id(cursor: str) -> int:
    """Return the message id inside a cursor."""
    value = decode(cursor)
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise BadRequest("The cursor is not one this service issued.")
    return int(value)
