"""Fixed windows in Redis: one counter per partition, shared by every gateway process.

One Lua script reads, checks and increments the counter, so the check and the count
are one step however many processes and connections hit the same key at once
(Redis runs a script atomically: no other command runs in between). redis-py's
``register_script`` sends it by SHA1 (``EVALSHA``) and loads it again whenever a
Redis forgets it (``NOSCRIPT``, after a restart).

The window starts with a partition's first request and ends with the key's
expiry: Redis's own clock times it, the same for every gateway process whatever
their clocks say, and an idle partition leaves nothing behind.

If Redis cannot be reached the store *fails open to the process*: it counts in its
own :class:`MemoryStore` for a few seconds, then tries Redis again. A Redis outage
then neither refuses every call (fail closed would turn a cache outage into a full
outage) nor lifts the limits (each process still holds every partition to its
quota, so N processes admit at most N times it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.ratelimit.memory import MemoryStore
from gateway.ratelimit.policy import Hit

logger = logging.getLogger("agentgate.ratelimit")

# KEYS[1] the partition's counter; ARGV[1] the quota; ARGV[2] the window in ms.
# Returns {admitted (0|1), requests admitted in this window, ms until it ends}.
HIT_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  -- a counter without expiry (set by hand?) would never reset: give it a window
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if count >= tonumber(ARGV[1]) then
  return {0, count, ttl}
end
count = redis.call('INCR', KEYS[1])
if ttl == -2 then
  -- the first request of a window starts it
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {1, count, ttl}
"""

# After Redis failed, count in memory this long before trying it again: during an
# outage each call would otherwise wait for a connection timeout first.
RETRY_REDIS_SECONDS = 5.0


def redis_client(url: str, *, timeout: float) -> Redis:
    """A client that gives up fast: a rate limit must not hold a call up for long.

    One immediate retry (no backoff) replaces a pooled connection Redis closed
    (after a restart, say); anything worse is an outage and the fallback takes over.
    """
    client: Redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                   retry=Retry(NoBackoff(), 1))
    return client


class RedisStore:
    def __init__(self, client: Redis, *, prefix: str, fallback: MemoryStore | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.prefix = prefix
        self.fallback = fallback or MemoryStore()
        self.clock = clock
        self._script = client.register_script(HIT_SCRIPT)
        self._down_until: float | None = None

    async def hit(self, key: str, limit: int, window: int) -> Hit:
        if self._down_until is not None:
            if self.clock() < self._down_until:
                return self.fallback.hit_now(key, limit, window)
            self._down_until = None
        try:
            allowed, count, ttl = await self._script(keys=[self.prefix + key],
                                                     args=[limit, window * 1000])
        except (RedisError, OSError) as exc:
            logger.warning("Redis unreachable (%s): rate limits count per process for %.0f s",
                           exc, RETRY_REDIS_SECONDS)
            self._down_until = self.clock() + RETRY_REDIS_SECONDS
            return self.fallback.hit_now(key, limit, window)
        return Hit(allowed=bool(allowed), count=int(count), reset_after=int(ttl) / 1000)

    @property
    def degraded(self) -> bool:
        """True while counting in memory because Redis was unreachable."""
        return self._down_until is not None

    async def aclose(self) -> None:
        await self.client.aclose()
