"""Stripe's own example objects, for realistic mocked Stripe answers.

``stripe_fixtures3.json`` holds the resources these tests use, copied unchanged
from Stripe's OpenAPI fixtures (github.com/stripe/openapi, ``openapi/fixtures3.json``,
MIT licence). A test takes a fresh deep copy and overrides only what its story
needs, so every answer has the shape Stripe really sends.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

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
