"""The operation manifest: what each service offers, learnt from its own OpenAPI.

The gateway never hard-codes a service's routes. It reads each operation's path,
method, required scopes (OpenAPI security requirements), declared side effects
(``x-effects``) and whether it may cost money (``x-payment``), and enforces them;
and the resource constraints the service itself enforces (``x-constraints``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.common.auth import SECURITY_SCHEME

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    operation_id: str
    summary: str
    scopes: frozenset[str]
    effects: dict[str, Any] = field(default_factory=dict)
    payment: dict[str, Any] = field(default_factory=dict)
    pattern: re.Pattern[str] = field(default=re.compile(""), compare=False, repr=False)

    @property
    def gateway_path(self) -> str:
        return f"/api/{self.service}{self.path}"

    @property
    def is_safe(self) -> bool:
        return self.method in ("GET", "HEAD", "OPTIONS")


def is_one_segment(value: str) -> bool:
    """Whether ``value``, as the service will read it, is one ordinary path segment.

    Not a dot segment (``.``, ``..``: an HTTP client collapses them) and no ``/`` or
    ``\\``: the gateway matched an operation on one path, and the service must not
    route the same request to another one.
    """
    return value not in ("", ".", "..") and "/" not in value and "\\" not in value


def _compile(path: str) -> re.Pattern[str]:
    regex, pos = "", 0
    for match in _PARAM.finditer(path):
        regex += re.escape(path[pos:match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        pos = match.end()
    return re.compile("^" + regex + re.escape(path[pos:]) + "$")


def operations_from_openapi(service: str, doc: dict[str, Any]) -> list[Operation]:
    """Read every operation of a service's OpenAPI document."""
    operations = []
    for path, item in doc.get("paths", {}).items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            scopes: set[str] = set()
            for requirement in op.get("security", doc.get("security", [])):
                scopes.update(requirement.get(SECURITY_SCHEME, []))
            operations.append(Operation(
                service=service,
                method=method.upper(),
                path=path,
                operation_id=op.get("operationId", f"{method}_{path}"),
                summary=op.get("summary", ""),
                scopes=frozenset(scopes),
                effects=op.get("x-effects", {}),
                payment=op.get("x-payment", {}),
                pattern=_compile(path),
            ))
    # Literal segments before parameters: /channels/search must win over /channels/{id}.
    operations.sort(key=lambda o: (o.path.count("{"), -len(o.path)))
    return operations


def declared_scopes(doc: dict[str, Any]) -> dict[str, str]:
    """The scopes (and their plain-language descriptions) a service's OpenAPI declares."""
    scheme = doc.get("components", {}).get("securitySchemes", {}).get(SECURITY_SCHEME, {})
    scopes: dict[str, str] = {}
    for flow in scheme.get("flows", {}).values():
        scopes.update(flow.get("scopes", {}))
    return scopes


def declared_constraints(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The resource constraints a service's OpenAPI declares (top-level ``x-constraints``).

    A grant may carry these (e.g. ``chat:channels``); the service enforces them from
    the Txn-Token. Each has a plain-language ``description`` and may name ``choices``:
    the operation whose items are the values a person can pick.
    """
    declared = doc.get("x-constraints", {})
    return {k: v for k, v in declared.items() if isinstance(v, dict)}


class Manifest:
    """Match a method and path of one service to its operation."""

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations

    def match(self, method: str, path: str) -> tuple[Operation | None, bool]:
        """Return (operation, path_exists). ``path_exists`` tells 405 from 404."""
        path_exists = False
        for op in self.operations:
            if op.pattern.match(path):
                if op.method == method or (method == "HEAD" and op.method == "GET"):
                    return op, True
                path_exists = True
        return None, path_exists
