"""A tool call, run as the REST call it stands for, through the one pipeline.

The MCP endpoint enforces nothing of its own. It turns the tool's arguments into
the HTTP request the REST API would have received (gateway/mcp/tools.py) and hands
it to :class:`gateway.proxy.pipeline.Pipeline`: scopes, peek by default for an
agent, dry-run, rate limits, idempotency, the payment hook, approvals, and the
activity record are the same code for both. Then the HTTP answer becomes a tool
result the agent can act on:

======================  ===========================================================
answer                  tool result
======================  ===========================================================
2xx                     the JSON body as ``structuredContent`` (and as text), with
                        the applied preference (``peek``, ``dry-run``) in ``_meta``
                        and a text line; a payment's receipt is in the body
202, held for approval  *not* an error: ``{"status": "pending_approval", ...}`` with
                        the approval, its ``poll_url``, and what to do next
                        (``gateway_get_approval``)
403 insufficient scope  not a tool result: :class:`ScopeChallenge`, which the
                        endpoint answers as HTTP 403 with the RFC 6750 challenge
                        (the MCP spec's step-up; gateway/mcp/server.py)
problem+json (4xx/5xx)  ``isError: true``, the problem document (RFC 9457) as
                        ``structuredContent``: type, title, detail and what the
                        agent needs to recover (payment reason, ``retry_after``)
======================  ===========================================================

Any other expected failure is never a JSON-RPC error: the model sees the tool's
answer, and can correct its call (the MCP spec's advice for tool execution errors).
A missing scope is the exception because the model can't correct it: the person
must grant more, and that is the client's OAuth flow, which starts from the 403.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from mcp.types import CallToolResult, TextContent

from gateway.mcp.tools import InvalidArguments, OperationTool, check_arguments, to_request
from gateway.payments.approvals import POLL_SECONDS, Approvals, poll_after, view
from gateway.principal import Principal
from gateway.proxy.pipeline import Pipeline, Upstream
from services.common.problems import Problem

PENDING_APPROVAL = "pending_approval"
APPROVAL_TOOL = "gateway_get_approval"
# _meta keys (MCP: a reverse-DNS-like prefix, then a name).
META_PREFERENCE = "agentgate/preference-applied"
META_REQUEST_ID = "agentgate/request-id"


class ScopeChallenge(Exception):
    """The token lacks a scope the call needs: the MCP request is answered 403 (step-up).

    The MCP authorization spec ("Scope challenge handling"): the server answers
    ``403`` with ``WWW-Authenticate: Bearer error="insufficient_scope", scope=...,
    resource_metadata=...``; the client asks the person for the scope and retries
    the same request with its new token.
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _text(value: Any) -> TextContent:
    return TextContent(type="text", text=value if isinstance(value, str) else json.dumps(value))


def _as_object(body: Any) -> dict[str, Any]:
    """``structuredContent`` must be a JSON object up to protocol 2025-11-25."""
    return body if isinstance(body, dict) else {"result": body}


def _retry_after(headers: Mapping[str, str]) -> int | None:
    value = headers.get("retry-after") or headers.get("Retry-After")
    return int(value) if value and value.isdigit() else None


def problem_result(doc: Mapping[str, Any], headers: Mapping[str, str] | None = None,
                   ) -> CallToolResult:
    """A problem document (RFC 9457) as a tool error the agent can read and act on."""
    problem = dict(doc)
    retry = _retry_after(headers or {})
    if retry is not None:
        problem.setdefault("retry_after", retry)
    summary = f"{problem.get('title', 'Error')} ({problem.get('status', '?')})"
    if problem.get("detail"):
        summary += f": {problem['detail']}"
    return CallToolResult(content=[_text(summary), _text(problem)],
                          structured_content=problem, is_error=True)


def invalid_arguments(tool: str, errors: list[str]) -> CallToolResult:
    """Arguments that don't match the input schema: say which and why (a 422 in REST)."""
    problem = Problem(422, "validation-error", f"Invalid arguments for {tool}: "
                      + "; ".join(errors) + ".", errors=errors)
    return problem_result(problem.body())


def pending_approval(approval: Mapping[str, Any], headers: Mapping[str, str]) -> CallToolResult:
    """A call held for the person's approval: not a failure, a wait. Say how to follow it."""
    doc = {
        "status": PENDING_APPROVAL,
        "approval_id": approval.get("id"),
        "poll_url": headers.get("location") or approval.get("url"),
        "retry_after": _retry_after(headers) or POLL_SECONDS,
        "approval": dict(approval),
        "next": f"The person must approve this in their Approvals inbox. Call {APPROVAL_TOOL} "
                "with approval_id (every retry_after seconds) to learn the outcome; once "
                "completed, its result is the operation's answer.",
    }
    return CallToolResult(content=[_text(str(approval.get("detail") or doc["next"])),
                                   _text(doc)], structured_content=doc)


def success(upstream: Upstream, request_id: str) -> CallToolResult:
    """A 2xx answer: the body, and what the gateway applied to it."""
    try:
        body = upstream.json()
    except ValueError:
        body = upstream.content.decode("utf-8", "replace")
    content = [_text(body if body is not None else {"status": upstream.status})]
    meta: dict[str, Any] = {META_REQUEST_ID: request_id}
    applied = upstream.headers.get("preference-applied")
    if applied:
        meta[META_PREFERENCE] = applied
        content.append(_text(f"Preference-Applied: {applied}"))
    return CallToolResult(content=content, structured_content=_as_object(body), meta=meta)


def _is_held(upstream: Upstream, issuer: str) -> bool:
    location = upstream.headers.get("location", "")
    return upstream.status == 202 and location.startswith(f"{issuer}/approvals/")


async def call_operation(pipeline: Pipeline, principal: Principal, tool: OperationTool,
                         arguments: Mapping[str, Any], *, request_id: str) -> CallToolResult:
    """Run one tool call through the pipeline, as its REST call, and map the answer.

    Raises :class:`ScopeChallenge` when the token lacks a scope the call needs.
    """
    try:
        check_arguments(tool, arguments)
    except InvalidArguments as exc:
        return invalid_arguments(tool.name, exc.errors)
    request = to_request(tool, arguments)
    try:
        upstream = await pipeline.call(principal, request.method, request.service, request.path,
                                       request_id=request_id, query=request.query,
                                       body=request.body, headers=request.headers)
    except Problem as problem:
        if problem.status == 403 and problem.slug == "insufficient-scope":
            raise ScopeChallenge(problem) from problem
        return problem_result(problem.body(), problem.headers)
    if _is_held(upstream, pipeline.issuer):
        return pending_approval(upstream.json(), upstream.headers)
    if not 200 <= upstream.status < 300:  # a problem; a 1xx or 3xx has nothing to act on
        try:
            doc = upstream.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            # Not a problem document (a service should always send one): say what we got.
            doc = Problem(upstream.status, "bad-gateway",
                          upstream.content.decode("utf-8", "replace")[:500] or None).body()
        return problem_result(doc, upstream.headers)
    return success(upstream, request_id)


async def get_approval(approvals: Approvals, principal: Principal, arguments: Mapping[str, Any],
                       *, issuer: str) -> CallToolResult:
    """``gateway_get_approval``: the approval as ``GET /approvals/{id}`` shows it."""
    unknown = sorted(set(arguments) - {"approval_id"})
    if unknown:
        return invalid_arguments(APPROVAL_TOOL, [f"{name}: not an argument of this tool"
                                                 for name in unknown])
    raw = arguments.get("approval_id")
    try:
        approval_id = uuid.UUID(str(raw))
    except ValueError:
        return invalid_arguments(APPROVAL_TOOL, [f"approval_id: {raw!r} is not a UUID"])
    try:
        approval = await approvals.get(approval_id, principal)
    except Problem as problem:
        return problem_result(problem.body(), problem.headers)
    doc = view(approval, issuer)
    wait = poll_after(approval)
    if wait is not None:
        doc["retry_after"] = wait
    return CallToolResult(content=[_text(f"Approval {doc['status']}."), _text(doc)],
                          structured_content=doc)
