"""Redis for the rate-limit tests: skipped with a reason locally if it is missing, failed in CI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import unavailable
from tests.support.redis import REDIS_URL, delete_prefix, redis_available, unique_prefix


@pytest.fixture(scope="session")
def redis_url() -> str:
    why = redis_available()
    if why:
        unavailable(why)  # skips locally, fails under CI=true
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = unique_prefix()
    yield prefix
    delete_prefix(prefix, redis_url)
