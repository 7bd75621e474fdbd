"""Request dependencies of the chat service."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query

from services.common.db import utcnow


def now() -> dt.datetime:
    """Return the current time; tests override this dependency to control the clock."""
    return utcnow()


Now = Annotated[dt.datetime, Depends(now)]

# Every list is paginated; a page is bounded so no request loads a whole channel.
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page (1 to 200).")]
Cursor = Annotated[str | None, Query(max_length=200,
                                     description="Opaque cursor from a previous page.")]
