"""Public, unauthenticated documents: the JWKS, problem type pages, health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.openapi import aggregated_openapi
from services.common.problems import PROBLEM_TYPES, NotFound

router = APIRouter()


@router.get("/.well-known/jwks.json", tags=["discovery"], operation_id="get_jwks")
async def jwks(request: Request) -> JSONResponse:
    """Publish the public keys that verify the gateway's signed tokens (RFC 7517)."""
    return JSONResponse(request.app.state.keys.jwks(),
                        headers={"Cache-Control": "public, max-age=300"})


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    """The gateway's API and every service's, under their /api/{service} paths."""
    return JSONResponse(await aggregated_openapi(request.app))


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
