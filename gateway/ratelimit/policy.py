"""Quota policies, partitions and the header fields that describe them.

Header syntax from draft-ietf-httpapi-ratelimit-headers-11 (Structured Fields, RFC 9651):

- section 3: ``RateLimit-Policy: "agent";q=600;w=60`` -- the policy's name, its quota
  ``q`` (in requests, the default quota unit ``qu``) and its window ``w`` in seconds;
- section 4: ``RateLimit: "agent";r=597;t=42`` -- the quota ``r`` still available and
  ``t``, the seconds within which the client may use no more than that.

The partition key parameter ``pk`` is optional and left out: the partition is
documented instead (docs/patterns/rate-limits.md), as section 6.1 asks, and the
policy's name already says which partition a response counted against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from gateway.principal import Principal

RATELIMIT_POLICY = "RateLimit-Policy"
RATELIMIT = "RateLimit"


@dataclass(frozen=True)
class Policy:
    """At most ``quota`` requests per ``window`` seconds for each partition."""

    name: str
    quota: int
    window: int

    @property
    def enabled(self) -> bool:
        return self.quota > 0

    def policy_field(self) -> str:
        return f'"{self.name}";q={self.quota};w={self.window}'


@dataclass(frozen=True)
class Hit:
    """What a store answered for one request: admitted or not, and where the window stands."""

    allowed: bool
    count: int  # requests admitted in the current window, this one included if admitted
    reset_after: float  # seconds until the current window ends

    def fields(self, policy: Policy) -> dict[str, str]:
        """The two response fields for ``policy`` after this hit."""
        remaining = max(0, policy.quota - self.count)
        seconds = min(policy.window, max(0, math.ceil(self.reset_after)))
        return {RATELIMIT_POLICY: policy.policy_field(),
                RATELIMIT: f'"{policy.name}";r={remaining};t={seconds}'}

    def retry_after(self) -> int:
        """Whole seconds until the window ends; never earlier than ``t`` (draft section 6)."""
        return max(1, math.ceil(self.reset_after))


class Store(Protocol):
    """Counts requests per key in fixed windows; ``hit`` is atomic per key."""

    async def hit(self, key: str, limit: int, window: int) -> Hit: ...

    async def aclose(self) -> None: ...


def partition(principal: Principal) -> tuple[str, str]:
    """Return the policy name and the partition key a call by ``principal`` counts against.

    An agent counts per (person, agent): two agents of one person, or one agent used by
    two people, never share a quota, and the person's own use (on the web, or with a
    personal API token) is counted apart from all their agents'.
    """
    if principal.is_person:
        return "person", f"person:{principal.user_id}"
    agent = principal.agent_id or principal.client_id or principal.actors[0].sub
    return "agent", f"agent:{principal.user_id}:{agent}"
