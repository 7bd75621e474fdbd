"""The OpenAPI document declares what the gateway enforces: scopes, effects, payment."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from services.common.txn_token import StaticKeys
from services.rides.app import create_app
from services.rides.auth import SCOPES

OPERATIONS = {
    "search_places": ("get", "/places", "rides:read"),
    "get_place": ("get", "/places/{place_id}", "rides:read"),
    "create_quote": ("post", "/quotes", "rides:read"),
    "get_quote": ("get", "/quotes/{quote_id}", "rides:read"),
    "book_trip": ("post", "/trips", "rides:book"),
    "list_trips": ("get", "/trips", "rides:read"),
    "get_trip": ("get", "/trips/{trip_id}", "rides:read"),
    "cancel_trip": ("post", "/trips/{trip_id}/cancel", "rides:book"),
}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    # No request is made: any database URL and key set will do.
    app: FastAPI = create_app(database_url="sqlite+aiosqlite:///:memory:",
                              issuer="https://gateway.test", keys=StaticKeys({"keys": []}))
    return app.openapi()


def _operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}


def test_every_operation_has_its_id_path_and_scope(openapi: dict[str, Any]) -> None:
    for operation_id, (method, path, scope) in OPERATIONS.items():
        op = openapi["paths"][path][method]
        assert op["operationId"] == operation_id
        assert op["security"] == [{"agentgate": [scope]}]
        assert op["summary"], f"{operation_id} needs a one-line docstring"
    assert set(_operations(openapi)) == set(OPERATIONS)


def test_the_scopes_are_described_for_consent(openapi: dict[str, Any]) -> None:
    scheme = openapi["components"]["securitySchemes"]["agentgate"]
    assert scheme["flows"]["authorizationCode"]["scopes"] == SCOPES


def test_every_operation_declares_its_effects(openapi: dict[str, Any]) -> None:
    writes = {op_id: op["x-effects"]["writes"] for op_id, op in _operations(openapi).items()}

    assert writes == {
        "search_places": [], "get_place": [], "get_quote": [], "list_trips": [],
        "get_trip": [], "create_quote": ["quote"], "book_trip": ["trip"],
        "cancel_trip": ["trip", "refund"],
    }
    assert all(op["x-effects"]["on_read"] == [] for op in _operations(openapi).values())


def test_only_booking_may_ask_for_payment_and_only_cancelling_refunds(
        openapi: dict[str, Any]) -> None:
    declared = {op_id: op["x-payment"] for op_id, op in _operations(openapi).items()
                if "x-payment" in op}

    assert declared == {
        "book_trip": {"may_require_payment": True, "refunds": False},
        "cancel_trip": {"may_require_payment": False, "refunds": True},
    }
    book = _operations(openapi)["book_trip"]
    assert "application/problem+json" in book["responses"]["402"]["content"]


def test_errors_are_documented_as_problems(openapi: dict[str, Any]) -> None:
    for op in _operations(openapi).values():
        assert "401" in op["responses"]
        assert "application/problem+json" in op["responses"]["401"]["content"]
