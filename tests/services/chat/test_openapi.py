"""The OpenAPI document declares what the gateway enforces: scopes, side effects, errors."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from services.chat.app import create_app
from services.chat.auth import SCOPES
from tests.support.txn import Signer

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    signer = Signer()
    app: FastAPI = create_app(database_url="sqlite+aiosqlite:///:memory:", issuer=signer.issuer,
                              keys=signer.keys)
    return app.openapi()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS]


def test_every_operation_declares_scope_effects_id_and_errors(openapi: dict[str, Any]) -> None:
    ops = operations(openapi)
    assert len(ops) >= 13
    for method, path, op in ops:
        where = f"{method.upper()} {path}"
        [requirement] = op["security"]
        [scopes] = requirement.values()
        assert scopes, where
        assert set(scopes) <= set(SCOPES), where
        assert "x-effects" in op, where
        assert op["operationId"].isidentifier(), where
        assert op["operationId"].islower(), where
        # The one-line docstring becomes the description.
        assert op["description"], where
        assert "\n" not in op["description"], where
        assert {"401", "422"} <= set(op["responses"]), where


def test_reading_messages_declares_its_read_effects(openapi: dict[str, Any]) -> None:
    op = openapi["paths"]["/channels/{channel_id}/messages"]["get"]

    assert op["x-effects"] == {
        "writes": [], "on_read": ["read_position", "read_receipt", "presence", "mention_ack"],
        "effect_scope": "chat:mark_read",
    }
    assert op["security"] == [{"agentgate": ["chat:read"]}]


def test_scheme_describes_the_three_scopes(openapi: dict[str, Any]) -> None:
    scheme = openapi["components"]["securitySchemes"]["agentgate"]

    assert scheme["flows"]["authorizationCode"]["scopes"] == SCOPES


def test_operation_ids_are_unique(openapi: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(openapi)]

    assert len(ids) == len(set(ids))
