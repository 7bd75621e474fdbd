"""What the gateway answers on a paid call is what /openapi.json documents for it."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema

from tests.gateway.payments.conftest import (
    MandatedAgent,
    QuoteFor,
    book,
    key,
    mandate,
    save_card,
)

TRIPS = "/api/rides/trips"


def _documented(doc: dict[str, Any], status: str) -> dict[str, Any]:
    """The response ``status`` of booking a trip, as the aggregated document has it."""
    response: dict[str, Any] = doc["paths"][TRIPS]["post"]["responses"][status]
    return response


def _validate(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    # Resolve "#/components/schemas/..." against the whole document.
    jsonschema.validate(instance, {**schema, "components": doc["components"]})


async def test_a_held_payment_answers_the_documented_202(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    doc = (await client.get("/openapi.json")).json()
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(approval_threshold=amount - 1))

    held = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert held.status_code == 202, held.text
    documented = _documented(doc, "202")
    assert {h.lower() for h in documented["headers"]} <= set(held.headers.keys())
    _validate(doc, documented["content"]["application/json"]["schema"], held.json())


async def test_a_refused_payment_answers_the_documented_402(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    doc = (await client.get("/openapi.json")).json()
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(max_per_payment=amount - 1))

    refused = await client.post(TRIPS, **book(quote_id), headers=agent.headers | key())

    assert refused.status_code == 402, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    documented = _documented(doc, "402")
    _validate(doc, documented["content"]["application/problem+json"]["schema"], refused.json())
    assert refused.json()["reason"] == "over_per_payment_cap"
    assert "over_per_payment_cap" in documented["description"]
