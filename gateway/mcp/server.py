"""The MCP endpoint (``/mcp``, Streamable HTTP): the one place the MCP SDK is wired in.

- **Auth.** ``/mcp`` is a protected resource of its own (gateway/oauth/resources.py,
  RFC 9728 metadata at ``/.well-known/oauth-protected-resource/mcp``). Every HTTP
  request carries a bearer token whose audience is ``<issuer>/mcp`` (RFC 8707):
  a REST token is refused here and an MCP token at ``/api``. The check is the
  REST API's own (:func:`gateway.auth.bearer_principal`); a request without a valid
  token gets the 401 challenge that points at the metadata (MCP authorization spec,
  RFC 9728 section 5.1), before the SDK sees it.
- **Stateless.** The SDK's session manager runs with ``stateless=True`` and
  ``json_response=True``: no ``Mcp-Session-Id``, no server-side session, each POST
  answered with one JSON body. Any replica serves any request, so replicas behind
  a load balancer need no session affinity. The cost: no server-to-client requests
  (sampling, elicitation) and no streamed notifications, which these tools don't use.
- **Tools.** Generated from the services' operations (gateway/mcp/tools.py) and run
  through the pipeline (gateway/mcp/calls.py), plus ``gateway_get_approval`` to poll
  a held payment.
- **Step-up.** A tool call the token lacks a scope for is answered HTTP 403 with
  ``WWW-Authenticate: Bearer error="insufficient_scope", scope=...,
  resource_metadata=...`` (the MCP spec's scope challenge), not with a tool result:
  the MCP SDK's client then asks the person for the scope and retries the call.
  The pipeline decides (the same refusal REST gets); this module only answers it
  on the HTTP request instead of inside the JSON-RPC one.

DNS-rebinding protection (the SDK's Host/Origin check) is left off: it protects
servers that trust the network they are reached on. Here every request must carry
a bearer token, which a page that rebinds a name can't attach.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    Tool,
    ToolAnnotations,
)
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from gateway.auth import bearer_principal
from gateway.mcp.calls import (
    APPROVAL_TOOL,
    ScopeChallenge,
    call_operation,
    get_approval,
    problem_result,
)
from gateway.mcp.tools import OperationTool, loaded_tools
from gateway.principal import Principal
from gateway.proxy.services import Service, ServiceRegistry
from services.common.db import session_scope
from services.common.problems import Problem

MCP_PATH = "/mcp"
RELOAD_SECONDS = 5.0  # how often tools/list retries a service that didn't answer
SERVER_NAME = "agentgate"
INSTRUCTIONS = (
    "Every service operation behind this gateway is a tool, named <service>_<operation>. "
    "You act for a person, within what they granted: reads are peeks (nothing they see "
    "changes) unless you pass effects=\"live\"; any write accepts effects=\"dry-run\". "
    "Paid operations need an idempotency_key and may answer pending_approval: poll it "
    f"with {APPROVAL_TOOL}. A refused call is a tool error whose structured content is an "
    "RFC 9457 problem document saying why and how to recover; a call needing a scope the "
    "person has not granted is refused as HTTP 403 insufficient_scope, for your client "
    "to ask them (step-up).")

APPROVAL_TOOL_DEFINITION = Tool(
    name=APPROVAL_TOOL,
    title="Get an approval",
    description="Poll a call the gateway held for the person's approval (a payment above "
                "the mandate's threshold): pending, then completed with the operation's "
                "answer in result, or denied or expired. Same as GET /approvals/{id}.",
    input_schema={"type": "object", "additionalProperties": False, "required": ["approval_id"],
                  "properties": {"approval_id": {
                      "type": "string", "format": "uuid",
                      "description": "The approval_id of a pending_approval result"}}},
    annotations=ToolAnnotations(title="Get an approval", read_only_hint=True,
                                destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False),
)


class GatewayMcp:
    """The MCP server of one gateway app: the SDK's server, its session manager, the route."""

    def __init__(self) -> None:
        self.server: Server[Any] = Server(
            SERVER_NAME, version="0.1.0", instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools, on_call_tool=self._call_tool)
        self.sessions = StreamableHTTPSessionManager(self.server, stateless=True,
                                                     json_response=True)
        self._tools: dict[str, OperationTool] = {}
        self._tools_for: frozenset[str] | None = None
        self._next_load = 0.0  # when to try the services that didn't answer again

    def route(self) -> Route:
        """``/mcp`` as a plain route (a Mount would redirect ``/mcp`` to ``/mcp/``).

        The endpoint is this object, an ASGI app: the SDK answers on the raw ASGI calls.
        """
        # No GET: stateless with JSON answers, there is no stream to open, and the
        # spec's answer for a server without one is 405.
        return Route(MCP_PATH, endpoint=self, methods=["POST", "DELETE"])

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run the session manager for the app's lifetime (enter it in the lifespan)."""
        async with self.sessions.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate the HTTP request, then let the SDK speak MCP on it."""
        request = Request(scope, receive)
        try:
            async with session_scope(request.app.state.sessionmaker) as db:
                principal = await bearer_principal(request, db)
        except Problem as problem:
            await problem.response(instance=request.url.path)(scope, receive, send)
            return
        # The SDK hands this request to the handlers below (ctx.request); the principal
        # rides on its state, marked so the activity log says "over MCP".
        request.state.principal = dataclasses.replace(principal, via="mcp")
        # Read the body here, not in the SDK: the gateway's body checks (size, NUL)
        # raise their 413/422 problems while it is read, and the SDK would turn any
        # exception into a 500.
        try:
            body = await request.body()
        except Problem as problem:
            await problem.response(instance=request.url.path)(scope, receive, send)
            return
        await self.sessions.handle_request(scope, _replay(body, receive),
                                           _challenging(scope, receive, send))

    def _tools_of(self, services: ServiceRegistry) -> dict[str, OperationTool]:
        """The generated tools, rebuilt only when the set of loaded services changes."""
        loaded = _loaded(services.services)
        if loaded != self._tools_for:
            self._tools, self._tools_for = loaded_tools(services), loaded
        return self._tools

    async def _all_tools(self, services: ServiceRegistry) -> dict[str, OperationTool]:
        """Every tool, trying a service that didn't answer at most every few seconds."""
        missing = len(_loaded(services.services)) < len(services.services)
        if missing and time.monotonic() >= self._next_load:
            self._next_load = time.monotonic() + RELOAD_SECONDS
            await services.load_all()
        return self._tools_of(services)

    async def _tool(self, services: ServiceRegistry, name: str) -> OperationTool | None:
        """The tool ``name``; its own service is loaded if it isn't yet (503 if it is down)."""
        tool = self._tools_of(services).get(name)
        service = services.services.get(name.split("_", 1)[0])
        if tool is None and service is not None and service.openapi is None:
            await service.ensure_loaded()  # Problem 503 while it doesn't answer
            tool = self._tools_of(services).get(name)
        return tool

    async def _list_tools(self, ctx: ServerRequestContext[Any, Any],
                          params: PaginatedRequestParams | None) -> ListToolsResult:
        tools = await self._all_tools(_http_request(ctx).app.state.services)
        return ListToolsResult(tools=[t.tool for t in tools.values()]
                               + [APPROVAL_TOOL_DEFINITION])

    async def _call_tool(self, ctx: ServerRequestContext[Any, Any],
                         params: CallToolRequestParams) -> CallToolResult:
        request = _http_request(ctx)
        principal: Principal = request.state.principal
        arguments = params.arguments or {}
        state = request.app.state
        if params.name == APPROVAL_TOOL:
            return await get_approval(state.payments.approvals, principal, arguments,
                                      issuer=state.settings.issuer)
        try:
            tool = await self._tool(state.services, params.name)
        except Problem as problem:
            return problem_result(problem.body(), problem.headers)
        if tool is None:
            # An unknown tool is a protocol error, not a tool error (MCP spec, "Tools").
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        try:
            return await call_operation(state.pipeline, principal, tool, arguments,
                                        request_id=request.state.request_id)
        except ScopeChallenge as challenge:
            # Answered on the HTTP request by _challenging; the SDK's answer is dropped.
            request.state.scope_challenge = challenge.problem
            return problem_result(challenge.problem.body(), challenge.problem.headers)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (already read) once, then waits as usual."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _challenging(scope: Scope, receive: Receive, send: Send) -> Send:
    """A ``send`` that answers 403 with the scope challenge if a tool call raised one.

    The SDK answers the request (JSON mode) only after the tool's handler returned,
    so the challenge is known when its ``http.response.start`` comes.
    """
    challenged = False

    async def send_or_challenge(message: Message) -> None:
        nonlocal challenged
        if message["type"] == "http.response.start":
            problem: Problem | None = scope.get("state", {}).get("scope_challenge")
            if problem is not None:
                challenged = True
                await problem.response(instance=MCP_PATH)(scope, receive, send)
        if not challenged:
            await send(message)

    return send_or_challenge


def _loaded(services: dict[str, Service]) -> frozenset[str]:
    return frozenset(name for name, service in services.items() if service.openapi is not None)


def _http_request(ctx: ServerRequestContext[Any, Any]) -> Request:
    """The HTTP request a handler is answering (Streamable HTTP puts it on the context)."""
    request = ctx.request
    if not isinstance(request, Request):
        raise MCPError(INTERNAL_ERROR, "The MCP endpoint only speaks Streamable HTTP.")
    return request
