"""The services' operations as MCP tools: one tool per operation, from its OpenAPI.

Nothing is written twice. A tool is generated from what the service already
declares in its OpenAPI document (gateway/proxy/services.py loads it):

- name: ``<service>_<operationId>``, the operation id of the aggregated OpenAPI
  (gateway/openapi.py), e.g. ``chat_list_messages``;
- description: the operation's summary and description, and what it does to the
  person's state (``x-effects``) or their money (``x-payment``);
- ``inputSchema``: one JSON Schema object with the path and query parameters by
  name and the JSON request body as ``body``, every ``$ref`` resolved so the schema
  stands alone; plus the gateway's own arguments, ``effects`` and, on an operation
  that may cost money, ``idempotency_key``. ``additionalProperties: false``: a
  misspelt argument is an error, not silently dropped;
- annotations: from the declared effects (gateway/mcp/annotations.py).

:func:`to_request` is the other half: it turns a call's arguments back into the
HTTP request the REST API would have received (method, path, query, body and the
``Prefer`` and ``Idempotency-Key`` headers), for the one pipeline to run.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from jsonschema import Draft202012Validator
from mcp.types import Tool

from gateway.effects.mode import DRY_RUN, EFFECTS, PEEK
from gateway.mcp.annotations import annotations_for
from gateway.payments.idempotency import IDEMPOTENCY_KEY_HEADER, MAX_KEY_LENGTH
from gateway.policy.manifest import Operation, is_one_segment
from gateway.proxy.services import ServiceRegistry

_KEY = re.compile(f"[!-~]{{1,{MAX_KEY_LENGTH}}}")

# The gateway's arguments, next to the operation's own.
EFFECTS_ARG = "effects"
IDEMPOTENCY_KEY_ARG = "idempotency_key"
BODY_ARG = "body"
LIVE = "live"
# The effects argument -> the Prefer header the REST API would have been sent
# (gateway/effects/mode.py). "live" on a write is the default: nothing to prefer.
PREFER_FOR_EFFECTS = {PEEK: PEEK, LIVE: f"{EFFECTS}=live", DRY_RUN: DRY_RUN}
_REF = "#/components/schemas/"


@dataclass(frozen=True)
class OperationTool:
    """One operation as a tool, and where each of its arguments goes in the request."""

    operation: Operation
    tool: Tool
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    validator: Draft202012Validator

    @property
    def name(self) -> str:
        return self.tool.name


def tool_name(operation: Operation) -> str:
    """The tool's name: the aggregated OpenAPI's operation id (gateway/openapi.py)."""
    return f"{operation.service}_{operation.operation_id}"


def resolve_refs(node: Any, doc: Mapping[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline every local ``$ref`` of ``node`` so the schema stands alone.

    A schema that refers to itself (directly or not) is cut at the second visit with
    an empty schema (anything goes) rather than recursing for ever.
    """
    if isinstance(node, list):
        return [resolve_refs(item, doc, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        name = ref.removeprefix(_REF)
        if name in seen:
            return {}
        target = doc.get("components", {}).get("schemas", {}).get(name, {})
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return resolve_refs({**copy.deepcopy(target), **siblings}, doc, (*seen, name))
    return {key: resolve_refs(value, doc, seen) for key, value in node.items()}


def _effects_text(operation: Operation) -> str:
    writes = operation.effects.get("writes") or []
    on_read = operation.effects.get("on_read") or []
    if not operation.is_safe:
        text = (f"Writes {', '.join(writes) or 'data'}; effects=\"dry-run\" tries it, "
                "keeping nothing.")
    elif on_read:
        text = (f"A peek by default: nothing the person sees changes. effects=\"live\" also "
                f"causes {', '.join(on_read)}, and needs the scope "
                f"{operation.effects.get('effect_scope', '')}.")
    else:
        text = "No side effects."
    if operation.payment.get("may_require_payment"):
        text += (" May cost money: paid from the person's card within your mandate; send an "
                 "idempotency_key (reuse it only to retry this same call). May answer "
                 "pending_approval: poll it with gateway_get_approval.")
    if operation.payment.get("refunds"):
        text += " May refund a payment."
    return text


def _description(operation: Operation, op_doc: Mapping[str, Any]) -> str:
    parts = [operation.summary or operation.operation_id]
    extra = str(op_doc.get("description") or "").strip()
    if extra and extra != operation.summary:
        parts.append(extra)
    parts.append(_effects_text(operation))
    parts.append(f"({operation.method} {operation.gateway_path}; scopes: "
                 f"{' '.join(sorted(operation.scopes)) or 'none'})")
    return "\n\n".join(parts)


def _gateway_properties(operation: Operation) -> dict[str, Any]:
    if operation.is_safe:
        effects = {"type": "string", "enum": [PEEK, LIVE],
                   "description": "peek (an agent's default): the data, and nothing about the "
                                  "person's state changes. live: the read counts as the "
                                  "person's (needs the operation's effect scope)."}
    else:
        effects = {"type": "string", "enum": [LIVE, DRY_RUN], "default": LIVE,
                   "description": "live: do it. dry-run: validated, authorized and priced as "
                                  "if real; nothing is stored, sent or charged."}
    properties: dict[str, Any] = {EFFECTS_ARG: effects}
    if operation.payment.get("may_require_payment"):
        properties[IDEMPOTENCY_KEY_ARG] = {
            "type": "string", "pattern": f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$",
            "description": "A unique key for this call, e.g. a random UUID: a retry with the "
                           "same key gets the first answer and never pays twice. Required on "
                           "a live call of an agent."}
    return properties


def build_tool(operation: Operation, doc: Mapping[str, Any]) -> OperationTool:
    """The tool for ``operation``, from its service's OpenAPI document ``doc``."""
    op_doc: Mapping[str, Any] = doc["paths"][operation.path][operation.method.lower()]
    properties: dict[str, Any] = {}
    required: list[str] = []
    path_params: list[str] = []
    query_params: list[str] = []
    for raw in op_doc.get("parameters", []):
        param = resolve_refs(raw, doc)
        where, name = param.get("in"), param.get("name")
        if where not in ("path", "query") or not isinstance(name, str):
            continue  # headers and cookies: the gateway's business, not the tool's
        schema = dict(param.get("schema", {}))
        if param.get("description"):
            schema.setdefault("description", param["description"])
        properties[name] = schema
        (path_params if where == "path" else query_params).append(name)
        if where == "path" or param.get("required"):
            required.append(name)
    request_body = resolve_refs(op_doc.get("requestBody"), doc) or {}
    body_schema = request_body.get("content", {}).get("application/json", {}).get("schema")
    if body_schema is not None:
        # The body is one argument, as in the request: no field can clash with a
        # parameter's name, and the schema is the service's own, whole.
        properties[BODY_ARG] = body_schema
        if request_body.get("required"):
            required.append(BODY_ARG)
    properties.update(_gateway_properties(operation))
    input_schema: dict[str, Any] = {"type": "object", "properties": properties,
                                    "required": required, "additionalProperties": False}
    tool = Tool(name=tool_name(operation), title=operation.summary or None,
                description=_description(operation, op_doc), input_schema=input_schema,
                annotations=annotations_for(operation))
    return OperationTool(operation, tool, tuple(path_params), tuple(query_params),
                         Draft202012Validator(input_schema))


def loaded_tools(services: ServiceRegistry) -> dict[str, OperationTool]:
    """Every operation of the services whose OpenAPI is loaded, as tools by name."""
    tools: dict[str, OperationTool] = {}
    for service in services.services.values():
        if service.openapi is None:
            continue  # still starting (separate processes): its tools appear once it answers
        for operation in service.manifest.operations:
            built = build_tool(operation, service.openapi)
            tools[built.name] = built
    return tools


class InvalidArguments(ValueError):
    """The arguments don't match the tool's input schema: says which one and why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def check_arguments(tool: OperationTool, arguments: Mapping[str, Any]) -> None:
    """Validate ``arguments`` against the tool's input schema, or raise InvalidArguments.

    Beyond the schema: a path parameter is one path segment, never a way to reach
    another operation (``"<id>/messages"``, ``".."``), and an idempotency key is
    printable ASCII to its last character (JSON Schema's ``$`` lets a final newline
    through, and a header can't carry one).
    """
    errors = [_explain(error) for error in
              sorted(tool.validator.iter_errors(dict(arguments)), key=lambda e: list(e.path))]
    for name in tool.path_params:
        value = arguments.get(name)
        if value is not None and not is_one_segment(str(value)):
            errors.append(f"{name}: {str(value)!r} is not a single path segment")
    key = arguments.get(IDEMPOTENCY_KEY_ARG)
    if isinstance(key, str) and not _KEY.fullmatch(key):
        errors.append(f"{IDEMPOTENCY_KEY_ARG}: 1 to {MAX_KEY_LENGTH} printable ASCII "
                      "characters, no spaces")
    if errors:
        raise InvalidArguments(errors)


def _explain(error: Any) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else str(error.message)


@dataclass(frozen=True)
class ToolRequest:
    """The HTTP request a tool call stands for, as the pipeline takes it."""

    method: str
    service: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]


def _query_value(value: Any) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [str(_query_value(v)) for v in value]
    return str(value)


def _sf_string(text: str) -> str:
    """An RFC 8941 sf-string: the Idempotency-Key field's form."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_request(tool: OperationTool, arguments: Mapping[str, Any]) -> ToolRequest:
    """Turn valid ``arguments`` into the equivalent REST request."""
    operation = tool.operation
    path = operation.path
    for name in tool.path_params:
        # One segment (check_arguments refused "/" and dot segments), percent-encoded.
        path = path.replace("{" + name + "}", quote(str(arguments[name]), safe=""))
    query = urlencode([(name, _query_value(arguments[name])) for name in tool.query_params
                       if arguments.get(name) is not None], doseq=True)
    headers: dict[str, str] = {"accept": "application/json"}
    body = b""
    if arguments.get(BODY_ARG) is not None:
        body = json.dumps(arguments[BODY_ARG]).encode()
        headers["content-type"] = "application/json"
    effects = arguments.get(EFFECTS_ARG)
    prefer = PREFER_FOR_EFFECTS.get(effects) if isinstance(effects, str) else None
    if prefer and not (effects == LIVE and not operation.is_safe):
        headers["prefer"] = prefer
    key = arguments.get(IDEMPOTENCY_KEY_ARG)
    if isinstance(key, str):
        headers[IDEMPOTENCY_KEY_HEADER.lower()] = _sf_string(key)
    return ToolRequest(operation.method, operation.service, path, query, body, headers)
