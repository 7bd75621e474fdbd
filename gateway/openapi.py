"""One OpenAPI document for the whole system.

The gateway's own operations plus every service's, each service path under
``/api/{service}``, operation ids and schema names prefixed with the service so
they can't collide, and the gateway's security schemes. Built from the services'
own documents, so it can't drift from what they really do.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.identity.sessions import SESSION_COOKIE
from gateway.policy.manifest import HTTP_METHODS, declared_constraints
from services.common.auth import SECURITY_SCHEME
from services.common.openapi import problem_responses

SHARED_SCHEMAS = {"ProblemDocument", "HTTPValidationError", "ValidationError"}
# What the gateway itself may answer on any forwarded operation.
GATEWAY_ERRORS = (401, 403, 404, 413, 503)
_SCHEMA_REF = "#/components/schemas/"


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
        doc["paths"][f"/api/{service}{path}"] = new_item
    for key, declared in declared_constraints(service_doc).items():
        entry = copy.deepcopy(declared) | {"service": service}
        choices = entry.get("choices")
        if isinstance(choices, dict) and "operation_id" in choices:
            choices["operation_id"] = f"{service}_{choices['operation_id']}"
        doc.setdefault("x-constraints", {})[key] = entry


async def aggregated_openapi(app: FastAPI) -> dict[str, Any]:
    cached: dict[str, Any] | None = getattr(app.state, "openapi_doc", None)
    if cached is not None:
        return cached
    registry = app.state.services
    await registry.load_all()
    doc = get_openapi(title="agentgate", version="0.1.0", routes=app.routes,
                      description="People and their agents, one API. Every service "
                                  "operation is reached under /api/{service}.")
    doc.setdefault("paths", {})
    complete = True
    for name, service in registry.services.items():
        if service.openapi is None:
            complete = False
            continue
        merge_service(doc, name, service.openapi)
    schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SECURITY_SCHEME] = {
        "type": "oauth2",
        "description": "Tokens from the agentgate authorization server.",
        "flows": {"authorizationCode": {
            "authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
            "scopes": registry.all_scopes()}},
    }
    schemes["session"] = {
        "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
        "description": "A person's web session. Unsafe methods also need the "
                       "X-CSRF-Token header (GET /auth/session gives it).",
    }
    if complete:  # don't cache a document that is missing a service still starting up
        app.state.openapi_doc = doc
    return doc
