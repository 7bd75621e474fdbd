"""How a page calls a service: through the same pipeline as an API call, as the signed-in person.

Pages never reach around the gateway (no direct database reads, no direct service
calls), so what a person sees is exactly what the API would give them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from gateway.principal import Principal
from gateway.proxy.pipeline import Pipeline, Upstream
from services.common.problems import Problem


class PageClient:
    def __init__(self, request: Request, principal: Principal) -> None:
        self.request = request
        self.principal = principal
        self.pipeline: Pipeline = request.app.state.pipeline

    async def call(self, method: str, service: str, path: str, *,
                   params: dict[str, Any] | None = None, body: Any = None,
                   extra_headers: dict[str, str] | None = None) -> Upstream:
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        content = json.dumps(body).encode() if body is not None else b""
        headers = {"accept": "application/json", **(extra_headers or {})}
        if body is not None:
            headers["content-type"] = "application/json"
        return await self.pipeline.call(
            self.principal, method, service, path, request_id=self.request.state.request_id,
            query=query, body=content, headers=headers)

    async def get(self, service: str, path: str, **params: Any) -> Any:
        """GET and return the JSON body; a service's problem is raised as the same Problem."""
        return raise_for_problem(await self.call("GET", service, path, params=params))

    async def post(self, service: str, path: str, body: Any = None) -> Any:
        return raise_for_problem(await self.call("POST", service, path, body=body))


def raise_for_problem(upstream: Upstream) -> Any:
    data = upstream.json()
    if upstream.status >= 400:
        doc = data if isinstance(data, dict) else {}
        slug = str(doc.get("type", "/problems/bad-gateway")).rsplit("/", 1)[-1]
        extra = {k: v for k, v in doc.items()
                 if k not in ("type", "title", "status", "detail", "instance")}
        raise Problem(upstream.status, slug, doc.get("detail"), title=doc.get("title"), **extra)
    return data
