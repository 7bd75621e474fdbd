"""The service's notion of now, injected so tests can move time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

Clock = Callable[[], dt.datetime]


def get_now(request: Request) -> dt.datetime:
    """Read the clock once per request, so one request sees one instant."""
    clock: Clock = request.app.state.clock
    return clock()


Now = Annotated[dt.datetime, Depends(get_now)]
