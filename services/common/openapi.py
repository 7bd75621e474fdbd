"""OpenAPI declarations every service uses: error responses, side effects, payments, constraints.

``x-effects`` and ``x-payment`` are how a service *declares* what an operation does,
and top-level ``x-constraints`` the resource limits it enforces; the gateway, the
docs and the MCP tools read them from the service's OpenAPI.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from services.common.problems import PROBLEM_JSON


class ProblemDocument(BaseModel):
    """RFC 9457 problem details; extension members vary by ``type``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "No valid Txn-Token",
    402: "Payment required",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    422: "Validation error",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Document problem+json error responses for ``responses=``."""
    codes = sorted({401, 422, *statuses})
    return {
        code: {
            "model": ProblemDocument,
            "description": _DESCRIPTIONS.get(code, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
        }
        for code in codes
    }


ReadEffect = Literal["read_position", "read_receipt", "presence", "mention_ack"]


def effects(*, writes: list[str] | None = None, on_read: list[ReadEffect] | None = None,
            effect_scope: str | None = None, payment: bool = False,
            refunds: bool = False) -> dict[str, Any]:
    """Build ``openapi_extra`` declaring an operation's side effects (and whether it may cost).

    ``writes``: durable state the operation changes; ``on_read``: changes to the
    person's state that merely *reading* causes when live; ``effect_scope``: the scope
    an agent needs to cause those read effects; ``payment``: the operation may answer
    402 and be paid by the gateway; ``refunds``: its answer may carry a ``refund``
    (``payment_id``, ``amount``, ``currency``) that the gateway's refund hook pays back.
    """
    declared: dict[str, Any] = {"writes": writes or [], "on_read": list(on_read or [])}
    if effect_scope:
        declared["effect_scope"] = effect_scope
    extra: dict[str, Any] = {"x-effects": declared}
    if payment or refunds:
        extra["x-payment"] = {"may_require_payment": payment, "refunds": refunds}
    return extra


def declare_constraints(app: FastAPI, constraints: dict[str, dict[str, Any]]) -> None:
    """Publish the resource constraints a service enforces, as top-level ``x-constraints``.

    Each key is a constraint a grant may carry (e.g. ``chat:channels``), with a
    plain-language ``description``, the scopes it ``applies_to``, and ``choices``: the
    operation listing the values a person can pick (``value``/``label`` fields of its
    items). The gateway's consent and agents pages read it to offer the choice.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generate()["x-constraints"] = constraints
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
