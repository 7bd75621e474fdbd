"""Stripe's own example objects, a signer and a quick SDK client, for mocked Stripe tests.

``stripe_fixtures3.json`` holds the resources these tests use, copied unchanged
from Stripe's OpenAPI fixtures (github.com/stripe/openapi, ``openapi/fixtures3.json``,
MIT licence). A test takes a fresh deep copy and overrides only what its story
needs, so every answer has the shape Stripe really sends.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable
from functools import cache
from pathlib import Path
from typing import Any

import stripe

FIXTURES = Path(__file__).with_name("stripe_fixtures3.json")


@cache
def _resources() -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def stripe_object(resource: str, **overrides: Any) -> dict[str, Any]:
    """A deep copy of Stripe's example ``resource`` (e.g. "payment_intent") with overrides."""
    obj = copy.deepcopy(_resources()[resource])
    obj.update(copy.deepcopy(overrides))
    return obj


def sign_webhook(payload: bytes, secret: str, *, at: int | None = None) -> str:
    """A Stripe-Signature header: HMAC-SHA256 of "{t}.{body}" with the endpoint's secret
    (https://docs.stripe.com/webhooks#verify-manually), written out rather than taken
    from the SDK so the tests check the scheme, not the SDK against itself."""
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


class NoWaitHTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, minus the back-off sleep between its retries."""

    def sleep_async(self, secs: float) -> Awaitable[None]:
        return super().sleep_async(0)
