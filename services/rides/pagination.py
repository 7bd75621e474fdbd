"""Keyset pagination with opaque cursors.

A cursor holds the sort key of the last item a page returned, so the next page
starts right after it: stable under inserts, unlike offsets. Callers must treat it
as opaque; its payload is validated like any input, so a forged one is a 400.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, TypeVar

from fastapi import Query
from pydantic import BaseModel, ValidationError

from services.rides.errors import InvalidCursor

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=512,
                                     description="`next_cursor` of the previous page.")]

K = TypeVar("K", bound=BaseModel)


def encode_cursor(key: BaseModel) -> str:
    """Return the opaque cursor for a sort key."""
    return base64.urlsafe_b64encode(key.model_dump_json().encode()).decode().rstrip("=")


def decode_cursor(cursor: str, key: type[K]) -> K:
    """Return the sort key inside ``cursor``, or refuse it as a bad request."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if b"\\u0000" in raw:  # a forged key with NUL: PostgreSQL can't compare it to text
            raise ValueError("NUL in a cursor")
        return key.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise InvalidCursor from exc
