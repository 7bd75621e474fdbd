"""Speaking MCP to the gateway over its ASGI app: JSON-RPC POSTs to /mcp, as a client would.

A token for the MCP endpoint is an ordinary access token whose audience is the
``mcp`` resource (``<issuer>/mcp``, RFC 8707): ``mcp_token(app, grant)``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.oauth.resources import resource_url
from seeds.chat import channel_id
from seeds.people import PEOPLE
from tests.gateway.payments.conftest import AgentCaller, mandated, quote
from tests.support.agents import bearer, make_agent, make_grant, mint_access_token, personal_token

__all__ = ["mandated", "quote"]  # the payment tests' fixtures, reused here

ALICE = PEOPLE["alice"].id
DESIGN = str(channel_id("design"))
MCP_ACCEPT = "application/json, text/event-stream"
PROTOCOL_VERSION = "2025-06-18"
EVERY_SCOPE = "chat:read chat:write chat:mark_read rides:read rides:book payments:spend"


def app_of(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def mcp_token(app: FastAPI, grant: Any, **claims: Any) -> str:
    """An access token for ``grant`` whose audience is the MCP endpoint."""
    return await mint_access_token(
        app, grant, audience=resource_url(app.state.settings.issuer, "mcp"), **claims)


@dataclass(frozen=True)
class Challenge:
    """A 403 scope challenge: the WWW-Authenticate fields and the problem document."""

    fields: dict[str, str]
    problem: dict[str, Any]

    @property
    def scopes(self) -> set[str]:
        return set(self.fields["scope"].split())


@dataclass
class McpClient:
    """A minimal MCP client: JSON-RPC over Streamable HTTP, one POST per message."""

    http: httpx.AsyncClient
    headers: dict[str, str]
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def post(self, message: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post("/mcp", json=message, headers={
            "Accept": MCP_ACCEPT, "MCP-Protocol-Version": PROTOCOL_VERSION,
            **self.headers, **(headers or {})})

    async def rpc(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request; return its JSON-RPC response (result or error)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self.ids), "method": method}
        if params is not None:
            message["params"] = params
        response = await self.post(message)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def initialize(self) -> dict[str, Any]:
        answer = await self.rpc("initialize", {
            "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "test-agent", "version": "1"}})
        result: dict[str, Any] = answer["result"]
        return result

    async def tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = (await self.rpc("tools/list"))["result"]["tools"]
        return tools

    async def challenged(self, name: str, arguments: dict[str, Any] | None = None) -> Challenge:
        """Call a tool the token lacks a scope for: the HTTP 403 step-up challenge."""
        response = await self.post({"jsonrpc": "2.0", "id": next(self.ids), "method": "tools/call",
                                    "params": {"name": name, "arguments": arguments or {}}})
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        header = response.headers["www-authenticate"]
        assert header.startswith("Bearer "), header
        fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
        return Challenge(fields, response.json())

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool; return its result (a tool result, error or not)."""
        answer = await self.rpc("tools/call", {"name": name, "arguments": arguments or {}})
        assert "result" in answer, answer
        result: dict[str, Any] = answer["result"]
        return result


McpFor = Callable[..., Awaitable[McpClient]]


@pytest.fixture
def mcp_agent(client: httpx.AsyncClient) -> McpFor:
    """An MCP client for a new agent of alice's holding ``scope`` (an MCP-audience token)."""
    async def make(scope: str = "chat:read", *, name: str = "Assistant") -> McpClient:
        app = app_of(client)
        async with app.state.write_sessionmaker() as db:
            agent = await make_agent(db, name)
            agent.scope = EVERY_SCOPE
            grant = await make_grant(db, ALICE, agent, scope=scope)
            await db.commit()
        return McpClient(client, bearer(await mcp_token(app, grant)))
    return make


async def over_mcp(client: httpx.AsyncClient, agent: AgentCaller) -> McpClient:
    """An MCP client for an agent made by the payment tests' ``mandated`` fixture."""
    return McpClient(client, bearer(await mcp_token(app_of(client), agent.grant_id)))


def structured(result: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = result["structuredContent"]
    return content


@pytest.fixture
async def alice_rest(client: httpx.AsyncClient) -> dict[str, str]:
    """alice's own API token for the REST API: to look at her state the way she would."""
    return await personal_token(app_of(client), ALICE, scope=EVERY_SCOPE, label="mcp tests")


async def design_counts(client: httpx.AsyncClient, alice_rest: dict[str, str]) -> tuple[int, int]:
    """alice's unread and mention counts in #design, looked at without changing them."""
    channels = (await client.get("/api/chat/channels",
                                 headers=alice_rest | {"Prefer": "peek"})).json()["items"]
    [design] = [c for c in channels if c["id"] == DESIGN]
    return design["unread_count"], design["mention_count"]
