"""One OpenAPI document for the whole system.

The gateway's own operations plus every service's, each service path under
``/api/{service}``, operation ids and schema names prefixed with the service so
they can't collide, and the gateway's security schemes. Built from the services'
own documents, so it can't drift from what they really do.

What the gateway adds to a service's declarations, because the gateway enforces it:

- the OAuth 2.0 security scheme with absolute URLs and every scope (OpenAPI 3.1
  section 4.8.27). OpenAPI 3.1 has no flow for the device grant (RFC 8628) nor a
  pointer to RFC 8414 metadata; 3.2 added both, as ``deviceAuthorization`` and
  ``oauth2MetadataUrl``, so they are published here under those names as
  ``x-`` extensions (section 4.9) until the document moves to 3.2;
- on an operation that may cost money (``x-payment.may_require_payment``): the
  ``payments:spend`` scope, the ``Idempotency-Key`` header, the ``202`` of a payment
  held for the person's approval (gateway/payments/approvals.py) and the ``402`` of
  a refused one (gateway/payments/refusals.py).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.identity.sessions import SESSION_COOKIE
from gateway.oauth.metadata import GRANT_TYPES
from gateway.payments.idempotency import IDEMPOTENCY_KEY_HEADER
from gateway.payments.models import ApprovalStatus
from gateway.payments.refusals import REASONS
from gateway.policy.manifest import HTTP_METHODS, declared_constraints
from gateway.policy.scopes import SPEND_SCOPE, scope_descriptions
from services.common.auth import SECURITY_SCHEME
from services.common.openapi import problem_responses
from services.common.problems import PROBLEM_JSON

SHARED_SCHEMAS = {"ProblemDocument", "HTTPValidationError", "ValidationError"}
# What the gateway itself may answer on any forwarded operation.
GATEWAY_ERRORS = (401, 403, 404, 413, 429, 503)
# Every answer of a rate-limited call (gateway/ratelimit, draft-ietf-httpapi-ratelimit-headers-11).
RATELIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": 'The quota policy the call counted against: "agent" (per person and '
                       'agent) or "person"; q requests per w seconds. E.g. "agent";q=600;w=60',
        "schema": {"type": "string"}},
    "RateLimit": {
        "description": 'The quota left (r) and the seconds until the window ends (t). '
                       'E.g. "agent";r=597;t=42',
        "schema": {"type": "string"}},
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds until the quota is available again",
                    "schema": {"type": "integer", "minimum": 1}}}
_SCHEMA_REF = "#/components/schemas/"
APPROVAL_SCHEMA = "ApprovalHeld"

DESCRIPTION = """People and their agents, one API. Every service operation is reached \
under /api/{service}.

Agents authorize with OAuth 2.1 (see the `agentgate` security scheme and
/.well-known/oauth-authorization-server); /llms.txt explains it all in one page.
An agent's read is a peek (`Preference-Applied: peek`) unless it asks for
`Prefer: effects=live` and holds the operation's effect scope; any write accepts
`Prefer: dry-run`. Each operation declares its side effects in `x-effects` and,
when it may cost money or refund it, `x-payment`. Errors are
application/problem+json (RFC 9457)."""


def _rename_refs(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_SCHEMA_REF):
                name = value.removeprefix(_SCHEMA_REF)
                out[key] = _SCHEMA_REF + names.get(name, name)
            else:
                out[key] = _rename_refs(value, names)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, names) for v in node]
    return node


def merge_service(doc: dict[str, Any], service: str, service_doc: dict[str, Any]) -> None:
    """Add one service's paths and schemas to ``doc``, prefixed with its name."""
    prefix = service.capitalize()
    schemas = service_doc.get("components", {}).get("schemas", {})
    names = {n: n if n in SHARED_SCHEMAS else f"{prefix}{n}" for n in schemas}
    target = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        target.setdefault(names[name], _rename_refs(copy.deepcopy(schema), names))
    extra_errors = _rename_refs(problem_responses(*GATEWAY_ERRORS), {})
    for path, item in service_doc.get("paths", {}).items():
        new_item = _rename_refs(copy.deepcopy(item), names)
        for method in HTTP_METHODS:
            op = new_item.get(method)
            if op is None:
                continue
            op["operationId"] = f"{service}_{op.get('operationId', method)}"
            op["tags"] = [service]
            scopes = [s for req in op.get("security", []) for s in req.get(SECURITY_SCHEME, [])]
            op["security"] = [{SECURITY_SCHEME: scopes}, {"session": []}]
            responses = op.setdefault("responses", {})
            for code, response in extra_errors.items():
                if str(code) not in responses:
                    responses[str(code)] = {"description": response["description"],
                                            "content": response["content"]}
            if op.get("x-payment", {}).get("may_require_payment"):
                _document_payment(op)
            _add_ratelimit_headers(responses)
        doc["paths"][f"/api/{service}{path}"] = new_item
    for key, declared in declared_constraints(service_doc).items():
        entry = copy.deepcopy(declared) | {"service": service}
        choices = entry.get("choices")
        if isinstance(choices, dict) and "operation_id" in choices:
            choices["operation_id"] = f"{service}_{choices['operation_id']}"
        doc.setdefault("x-constraints", {})[key] = entry


def _document_payment(op: dict[str, Any]) -> None:
    """Say what the gateway adds to an operation that may cost money."""
    op["x-payment"] = op["x-payment"] | {
        "spend_scope": SPEND_SCOPE, "may_need_approval": True,
        "idempotency_key": "required on an agent's live call"}
    op.setdefault("parameters", []).append({
        "name": IDEMPOTENCY_KEY_HEADER, "in": "header", "required": False,
        "description": "A unique key per call, e.g. a random UUID in quotes: a retry with "
                       "the same key gets the first answer and never pays twice. Required "
                       "on an agent's live call (draft-ietf-httpapi-idempotency-key-header).",
        "schema": {"type": "string"}})
    op["description"] = (op.get("description", "") + "\n\nThis operation may cost money: the "
                         "gateway pays it from the person's saved card within the agent's "
                         f"payment mandate (the agent needs `{SPEND_SCOPE}`).").lstrip()
    responses = op["responses"]
    responses["202"] = {
        "description": "Held for the person's approval (the payment is above the mandate's "
                       "approval threshold, or the bank wants the person to authenticate). "
                       "Poll Location; once approved its `result` is this operation's answer.",
        "headers": {"Location": {"description": "The approval to poll",
                                 "schema": {"type": "string", "format": "uri"}},
                    "Retry-After": {"description": "Seconds to wait before polling",
                                    "schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": {"$ref": _SCHEMA_REF + APPROVAL_SCHEMA}}}}
    refused = responses.setdefault("402", {})
    refused["description"] = (
        "Payment refused: the gateway won't pay by itself. `payment-refused` problems carry "
        "`reason` (" + ", ".join(REASONS) + "), `amount`, `currency` and `fix_at`, where the "
        "person can change the answer.")
    refused.setdefault("content", {}).setdefault(
        PROBLEM_JSON, {"schema": {"$ref": _SCHEMA_REF + "ProblemDocument"}})


# gateway/payments/approvals.py view(): what a held call's 202 and its poll answer.
APPROVAL_HELD: dict[str, Any] = {
    "type": "object", "title": APPROVAL_SCHEMA,
    "required": ["id", "status", "url"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": [s.value for s in ApprovalStatus]},
        "reason": {"type": "string"}, "amount": {"type": "integer"},
        "currency": {"type": "string"}, "price": {"type": "string"},
        "description": {"type": ["string", "null"]}, "service": {"type": "string"},
        "agent": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time"},
        "url": {"type": "string", "format": "uri"}, "detail": {"type": "string"},
        "result": {"type": "object", "description": "The service's answer, once carried out"},
    },
}


def oauth_scheme(issuer: str, scopes: dict[str, str]) -> dict[str, Any]:
    """The gateway's OAuth 2.0 security scheme, in absolute URLs (OpenAPI 3.1 section 4.8.27)."""
    flows: dict[str, Any] = {
        "authorizationCode": {"authorizationUrl": f"{issuer}/oauth/authorize",
                              "tokenUrl": f"{issuer}/oauth/token",
                              "refreshUrl": f"{issuer}/oauth/token", "scopes": scopes},
        # OpenAPI 3.2's deviceAuthorization flow (RFC 8628), as an extension in 3.1.
        "x-deviceAuthorization": {"deviceAuthorizationUrl": f"{issuer}/oauth/device_authorization",
                                  "tokenUrl": f"{issuer}/oauth/token", "scopes": scopes},
    }
    return {
        "type": "oauth2",
        "description": (
            "Access tokens from the agentgate authorization server (RFC 9068 JWTs naming the "
            "person in `sub` and the agent in `act`). Authorization code needs PKCE with "
            "S256; headless agents use the device flow (RFC 8628, `x-deviceAuthorization`); "
            "sub-agents get narrower tokens by token exchange (RFC 8693); spending needs "
            f"`{SPEND_SCOPE}` and an RFC 9396 `payment_mandate` in `authorization_details`. "
            f"Send `resource={issuer}/api` (RFC 8707) for these operations; the same "
            f"operations as MCP tools at {issuer}/mcp take a token with "
            f"`resource={issuer}/mcp`, and neither token works on the other. A missing scope "
            "is 403 with `WWW-Authenticate: Bearer error=\"insufficient_scope\"` naming the "
            "scope and the `resource_metadata`. A client-credentials token acts for "
            "no person, so it reaches no service operation (403 no-person)."),
        "flows": flows,
        # OpenAPI 3.2's oauth2MetadataUrl: the RFC 8414 document with every endpoint.
        "x-oauth2MetadataUrl": f"{issuer}/.well-known/oauth-authorization-server",
        "x-grantTypes": GRANT_TYPES,
    }


def _add_ratelimit_headers(responses: dict[str, Any]) -> None:
    """Document the RateLimit fields on success and on 429, and Retry-After on 429."""
    for code, response in responses.items():
        if code.startswith("2") or code == "429":
            response.setdefault("headers", {}).update(copy.deepcopy(RATELIMIT_HEADERS))
    limited = responses["429"]
    limited["description"] = "Over the rate limit"
    limited["headers"].update(copy.deepcopy(RETRY_AFTER_HEADER))


async def aggregated_openapi(app: FastAPI) -> dict[str, Any]:
    cached: dict[str, Any] | None = getattr(app.state, "openapi_doc", None)
    if cached is not None:
        return cached
    registry = app.state.services
    await registry.load_all()
    issuer: str = app.state.settings.issuer
    doc = get_openapi(title="agentgate", version="0.1.0", routes=app.routes,
                      description=DESCRIPTION, servers=[{"url": issuer}])
    doc["externalDocs"] = {"url": f"{issuer}/llms.txt",
                           "description": "How an agent authorizes and uses this API"}
    doc.setdefault("paths", {})
    complete = True
    for name, service in registry.services.items():
        if service.openapi is None:
            complete = False
            continue
        merge_service(doc, name, service.openapi)
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})[APPROVAL_SCHEMA] = APPROVAL_HELD
    schemes = components.setdefault("securitySchemes", {})
    schemes[SECURITY_SCHEME] = oauth_scheme(issuer, scope_descriptions(registry))
    schemes["session"] = {
        "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
        "description": "A person's web session. Unsafe methods also need the "
                       "X-CSRF-Token header (GET /auth/session gives it).",
    }
    if complete:  # don't cache a document that is missing a service still starting up
        app.state.openapi_doc = doc
    return doc
