"""In-memory fixed windows: the store when no Redis is configured (one process only)."""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.ratelimit.policy import Hit

# Forget finished windows at most this often, so idle partitions don't pile up.
SWEEP_SECONDS = 60.0


class MemoryStore:
    """Counters in a dict: ``key -> (admitted, window end)`` on a monotonic clock.

    :meth:`hit` never awaits between reading and writing a counter, so on one event
    loop it is atomic without a lock: no other task can run in between. The limit
    holds per process; several gateway processes need :class:`RedisStore`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[int, float]] = {}
        self._next_sweep = clock() + SWEEP_SECONDS

    async def hit(self, key: str, limit: int, window: int) -> Hit:
        return self.hit_now(key, limit, window)

    def hit_now(self, key: str, limit: int, window: int) -> Hit:
        now = self.clock()
        self._sweep(now)
        count, ends = self._windows.get(key, (0, now))
        if now >= ends:  # no window yet, or it is over: this request starts a new one
            count, ends = 0, now + window
        if count >= limit:
            return Hit(allowed=False, count=count, reset_after=ends - now)
        self._windows[key] = (count + 1, ends)
        return Hit(allowed=True, count=count + 1, reset_after=ends - now)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        self._next_sweep = now + SWEEP_SECONDS

    def __len__(self) -> int:
        return len(self._windows)

    async def aclose(self) -> None:
        self._windows.clear()
