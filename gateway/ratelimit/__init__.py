"""Rate limits per (person, agent): stage 5 of the pipeline.

Each call is counted against one quota policy, chosen by who calls: an agent acting
for a person counts against that pair's ``"agent"`` policy, a person calling as
themself (web session, personal API token) against their own ``"person"`` policy.
The counters live in Redis when ``AGENTGATE_REDIS_URL`` is set (shared by every
gateway process) and in memory otherwise (one process). Responses carry the
``RateLimit-Policy`` and ``RateLimit`` fields of draft-ietf-httpapi-ratelimit-headers-11;
over the quota the call is refused with 429, ``Retry-After`` and problem+json.
"""

from gateway.ratelimit.limiter import RateLimited, RateLimiter, limiter_from_settings
from gateway.ratelimit.memory import MemoryStore
from gateway.ratelimit.policy import Hit, Policy, Store, partition
from gateway.ratelimit.redis_store import RedisStore

__all__ = [
    "Hit",
    "MemoryStore",
    "Policy",
    "RateLimited",
    "RateLimiter",
    "RedisStore",
    "Store",
    "limiter_from_settings",
    "partition",
]
