"""Stateless: any replica answers any MCP request, with no session to stick to."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import Settings
from tests.gateway.mcp.conftest import DESIGN, McpClient, McpFor, structured


async def test_initialize_on_one_replica_and_call_a_tool_on_another(
        gateway_app: FastAPI, database_url: str, mcp_agent: McpFor) -> None:
    token = (await mcp_agent("chat:read")).headers
    other: FastAPI = create_app(Settings(env="test", database_url=database_url))

    async with other.router.lifespan_context(other), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="https://testserver") as http:
        first = McpClient(httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app),
                                            base_url="https://testserver"), token)
        second = McpClient(http, token)
        async with first.http:
            hello = await first.post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                      "params": {"protocolVersion": "2025-06-18",
                                                 "capabilities": {},
                                                 "clientInfo": {"name": "t", "version": "1"}}})

        result = await second.call("chat_list_messages", {"channel_id": DESIGN})

    assert hello.status_code == 200
    assert "mcp-session-id" not in hello.headers  # nothing to remember, nothing to route by
    assert result["isError"] is False
    assert structured(result)["items"]
