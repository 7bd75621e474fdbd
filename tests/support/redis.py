"""The test Redis: reachable or not, and a key prefix no other test run shares.

Several test runs (and other checkouts) may share one Redis: every test gets its
own prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import os
import uuid

REDIS_URL = os.environ.get("AGENTGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_available(url: str = REDIS_URL) -> str | None:
    """Return None if Redis answers PING, else why not."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
        return None
    except Exception as exc:
        return f"Redis at {url} is not reachable: {exc}"
    finally:
        client.close()


def unique_prefix() -> str:
    return f"agentgate-test:{uuid.uuid4().hex}:"


def delete_prefix(prefix: str, url: str = REDIS_URL) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
