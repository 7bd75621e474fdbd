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

DNS-rebinding protection (the SDK's Host/Origin check) is left off: it protects
servers that trust the network they are reached on. Here every request must carry
a bearer token, which a page that rebinds a name can't attach.
"""

from __future__ import annotations

import dataclasses
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
from starlette.types import Receive, Scope, Send

from gateway.auth import bearer_principal
from gateway.mcp.calls import APPROVAL_TOOL, call_operation, get_approval
from gateway.mcp.tools import OperationTool, operation_tools
from gateway.principal import Principal
from gateway.proxy.services import Service
from services.common.db import session_scope
from services.common.problems import Problem

MCP_PATH = "/mcp"
SERVER_NAME = "agentgate"
INSTRUCTIONS = (
    "Every service operation behind this gateway is a tool, named <service>_<operation>. "
    "You act for a person, within what they granted: reads are peeks (nothing they see "
    "changes) unless you pass effects=\"live\"; any write accepts effects=\"dry-run\". "
    "Paid operations need an idempotency_key and may answer pending_approval: poll it "
    f"with {APPROVAL_TOOL}. A refused call is a tool error whose structured content is an "
    "RFC 9457 problem document saying why and how to recover.")

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
        self._tools_for: frozenset[str] = frozenset()

    def route(self) -> Route:
        """``/mcp`` as a plain route (a Mount would redirect ``/mcp`` to ``/mcp/``).

        The endpoint is this object, an ASGI app: the SDK answers on the raw ASGI calls.
        """
        return Route(MCP_PATH, endpoint=self, methods=["GET", "POST", "DELETE"])

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
        await self.sessions.handle_request(scope, receive, send)

    async def _tools_of(self, request: Request) -> dict[str, OperationTool]:
        """The generated tools, rebuilt only when the set of answering services changes."""
        services = request.app.state.services
        loaded = _loaded(services.services)
        if loaded != self._tools_for or len(loaded) < len(services.services):
            self._tools = await operation_tools(services)  # loads a service still missing
            self._tools_for = _loaded(services.services)
        return self._tools

    async def _list_tools(self, ctx: ServerRequestContext[Any, Any],
                          params: PaginatedRequestParams | None) -> ListToolsResult:
        tools = await self._tools_of(_http_request(ctx))
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
        tool = (await self._tools_of(request)).get(params.name)
        if tool is None:
            # An unknown tool is a protocol error, not a tool error (MCP spec, "Tools").
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        return await call_operation(state.pipeline, principal, tool, arguments,
                                    request_id=request.state.request_id)


def _loaded(services: dict[str, Service]) -> frozenset[str]:
    return frozenset(name for name, service in services.items() if service.openapi is not None)


def _http_request(ctx: ServerRequestContext[Any, Any]) -> Request:
    """The HTTP request a handler is answering (Streamable HTTP puts it on the context)."""
    request = ctx.request
    if not isinstance(request, Request):
        raise MCPError(INTERNAL_ERROR, "The MCP endpoint only speaks Streamable HTTP.")
    return request
