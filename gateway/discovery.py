"""Public, unauthenticated documents: the JWKS, the API catalog, OpenAPI, llms.txt, health.

Each discovery document answers with ``Link: <...>; rel="api-catalog"`` (RFC 9727
section 3), so a client that found any one of them finds the rest.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gateway.catalog import CATALOG_PATH, LINKSET_JSON, api_catalog, catalog_link
from gateway.llms import llms_txt
from gateway.openapi import aggregated_openapi
from gateway.policy.scopes import scope_descriptions
from services.common.problems import PROBLEM_TYPES, NotFound

router = APIRouter()


@router.get("/.well-known/jwks.json", tags=["discovery"], operation_id="get_jwks")
async def jwks(request: Request) -> JSONResponse:
    """Publish the public keys that verify the gateway's signed tokens (RFC 7517)."""
    return JSONResponse(request.app.state.keys.jwks(),
                        headers={"Cache-Control": "public, max-age=300"})


def _discovery_headers(request: Request) -> dict[str, str]:
    return {"Cache-Control": "public, max-age=300",
            "Link": catalog_link(request.app.state.settings.issuer)}


def _answer(request: Request, content: bytes, media_type: str) -> Response:
    """GET gets the document; HEAD the same headers, no body (RFC 9110 section 9.3.2)."""
    body = b"" if request.method == "HEAD" else content
    response = Response(body, media_type=media_type, headers=_discovery_headers(request))
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(content))
    return response


@router.api_route(CATALOG_PATH, methods=["GET", "HEAD"], include_in_schema=False)
async def catalog(request: Request) -> Response:
    """List this gateway's APIs with their descriptions, docs, metadata, status (RFC 9727)."""
    registry = request.app.state.services
    doc = api_catalog(request.app.state.settings.issuer, registry.services)
    return _answer(request, json.dumps(doc).encode(), LINKSET_JSON)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    """The gateway's API and every service's, under their /api/{service} paths."""
    return JSONResponse(await aggregated_openapi(request.app), headers=_discovery_headers(request))


@router.api_route("/llms.txt", methods=["GET", "HEAD"], include_in_schema=False)
async def llms(request: Request) -> Response:
    """Tell an agent, in one page, how to authorize and use the API (llmstxt.org)."""
    registry = request.app.state.services
    await registry.load_all()
    # A service still starting (separate processes) is left out, not listed empty.
    operations = {name: service.manifest.operations
                  for name, service in registry.services.items() if service.openapi is not None}
    text = llms_txt(request.app.state.settings.issuer, operations,
                    scope_descriptions(registry),
                    agent_limit=request.app.state.limiter.policies["agent"])
    return _answer(request, text.encode(), "text/markdown; charset=utf-8")


@router.get("/problems/{slug}", include_in_schema=False)
async def problem_page(slug: str, request: Request) -> HTMLResponse:
    """Describe a problem type, so a problem's ``type`` URI dereferences to documentation."""
    title = PROBLEM_TYPES.get(slug)
    if title is None:
        raise NotFound(f"No problem type {slug!r}.")
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "problem_type.html",  # type: ignore[no-any-return]
                                      {"slug": slug, "title": title})


@router.get("/healthz", tags=["discovery"], operation_id="get_health")
async def health(request: Request) -> dict[str, Any]:
    """Say whether the gateway is up and which services it has reached."""
    services = request.app.state.services.services
    return {"status": "ok",
            "services": {name: s.openapi is not None for name, s in services.items()}}
