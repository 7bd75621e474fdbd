"""``/api/{service}/{path}``: the REST face of the pipeline."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.auth import CurrentPrincipal, check_csrf
from gateway.proxy.pipeline import Pipeline, preference_headers
from services.common.problems import Problem

router = APIRouter()

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@router.api_route("/api/{service}/{path:path}", methods=METHODS, include_in_schema=False)
async def forward(service: str, path: str, request: Request,
                  principal: CurrentPrincipal) -> Response:
    """Forward one call to a service through the gateway pipeline."""
    check_csrf(request, principal)
    pipeline: Pipeline = request.app.state.pipeline
    try:
        upstream = await pipeline.call(
            principal, request.method, service, "/" + path,
            request_id=request.state.request_id,
            query=request.url.query,
            body=await request.body(),
            headers=request.headers,
        )
    except Problem as problem:
        # Past authentication, the answer may depend on Prefer (a live read refused).
        problem.headers.update(preference_headers(None))
        raise
    return Response(content=upstream.content, status_code=upstream.status,
                    headers=upstream.headers)
