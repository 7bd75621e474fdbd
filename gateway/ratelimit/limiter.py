"""The limits stage: count a call against its partition's policy, or refuse it with 429."""

from __future__ import annotations

from typing import Any

from gateway.config import Settings
from gateway.principal import Principal
from gateway.ratelimit.memory import MemoryStore
from gateway.ratelimit.policy import Hit, Policy, Store, partition
from gateway.ratelimit.redis_store import RedisStore, redis_client
from services.common.problems import Problem


class RateLimited(Problem):
    """429 (RFC 6585 section 4) with ``Retry-After`` and both RateLimit fields.

    ``violated-policies`` is the extension member draft-ietf-httpapi-ratelimit-headers-11
    section 5.1 defines for its quota-exceeded problem: the policies that refused.
    """

    def __init__(self, policy: Policy, hit: Hit) -> None:
        wait = hit.retry_after()
        extra: dict[str, Any] = {"retry_after": wait, "violated-policies": [policy.name]}
        super().__init__(
            429, "rate-limited",
            f"Over the {policy.name} quota of {policy.quota} requests per {policy.window} s; "
            f"try again in {wait} s.",
            headers={**hit.fields(policy), "Retry-After": str(wait)},
            **extra)


class RateLimiter:
    def __init__(self, store: Store, *, agent: Policy, person: Policy) -> None:
        self.store = store
        self.policies = {"agent": agent, "person": person}

    async def check(self, principal: Principal) -> dict[str, str]:
        """Count one call by ``principal``; return its RateLimit fields or raise RateLimited."""
        name, key = partition(principal)
        policy = self.policies[name]
        if not policy.enabled:
            return {}
        hit = await self.store.hit(key, policy.quota, policy.window)
        if not hit.allowed:
            raise RateLimited(policy, hit)
        return hit.fields(policy)

    async def aclose(self) -> None:
        await self.store.aclose()


def limiter_from_settings(settings: Settings) -> RateLimiter:
    """Redis when ``AGENTGATE_REDIS_URL`` is set, else memory (this process only)."""
    store: Store
    if settings.redis_url:
        store = RedisStore(redis_client(settings.redis_url, timeout=settings.redis_timeout_seconds),
                           prefix=settings.redis_key_prefix)
    else:
        store = MemoryStore()
    window = settings.rate_limit_window_seconds
    return RateLimiter(store, agent=Policy("agent", settings.rate_limit_agent, window),
                       person=Policy("person", settings.rate_limit_person, window))
