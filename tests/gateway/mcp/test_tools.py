"""tools/list: one tool per operation, named, described and annotated from the declarations."""

from __future__ import annotations

import json
from typing import Any

import httpx

from gateway.policy.manifest import Operation
from tests.gateway.mcp.conftest import McpFor, app_of


def operations(client: httpx.AsyncClient) -> list[Operation]:
    services = app_of(client).state.services.services
    return [op for service in services.values() for op in service.manifest.operations]


def expected_hints(op: Operation) -> dict[str, bool]:
    """The table in gateway/mcp/annotations.py, restated from the declarations."""
    writes = bool(op.effects.get("writes"))
    payment = op.payment
    return {
        "readOnlyHint": op.method == "GET",
        "destructiveHint": writes and (
            op.method in ("PUT", "PATCH", "DELETE") or bool(payment.get("refunds"))
            or bool({"read_position", "read_receipt", "mention_ack"}
                    & set(op.effects["writes"]))),
        "idempotentHint": op.method in ("GET", "PUT", "DELETE"),
        "openWorldHint": bool(payment.get("may_require_payment") or payment.get("refunds")),
    }


async def test_every_operation_is_a_tool_and_the_approval_poll_is_one_more(
        client: httpx.AsyncClient, mcp_agent: McpFor) -> None:
    mcp = await mcp_agent()
    await mcp.initialize()

    names = {tool["name"] for tool in await mcp.tools()}

    expected = {f"{op.service}_{op.operation_id}" for op in operations(client)}
    assert len(expected) == len(operations(client)) > 20
    assert names == expected | {"gateway_get_approval"}


async def test_every_tools_annotations_say_what_its_operation_declares(
        client: httpx.AsyncClient, mcp_agent: McpFor) -> None:
    tools = {tool["name"]: tool for tool in await (await mcp_agent()).tools()}

    wrong = {}
    for op in operations(client):
        hints = tools[f"{op.service}_{op.operation_id}"]["annotations"]
        shown = {name: hints[name] for name in expected_hints(op)}
        if shown != expected_hints(op):
            wrong[op.operation_id] = (shown, op.effects, op.payment)
        # A read declares no writes: what makes readOnlyHint honest.
        assert not (op.method == "GET" and op.effects.get("writes")), op.operation_id

    assert wrong == {}
    # The cases the mapping exists for, named.
    assert tools["chat_list_messages"]["annotations"]["readOnlyHint"] is True
    assert tools["rides_cancel_trip"]["annotations"]["destructiveHint"] is True
    # Marking read overwrites what the person sees as read: never "only additive".
    assert tools["chat_mark_channel_read"]["annotations"]["destructiveHint"] is True
    assert tools["chat_post_message"]["annotations"]["destructiveHint"] is True
    assert tools["rides_create_quote"]["annotations"]["destructiveHint"] is False
    assert tools["rides_book_trip"]["annotations"]["openWorldHint"] is True
    assert tools["chat_post_message"]["annotations"]["readOnlyHint"] is False


async def test_an_input_schema_stands_alone_with_params_body_and_the_gateways_arguments(
        mcp_agent: McpFor) -> None:
    tools = {tool["name"]: tool for tool in await (await mcp_agent()).tools()}

    post = tools["chat_post_message"]["inputSchema"]
    book = tools["rides_book_trip"]["inputSchema"]
    read = tools["chat_list_messages"]["inputSchema"]

    for tool in tools.values():
        assert "$ref" not in json.dumps(tool["inputSchema"]), tool["name"]
        assert tool["inputSchema"]["type"] == "object"
        assert tool["inputSchema"]["additionalProperties"] is False
    assert post["required"] == ["channel_id", "body"]
    assert "text" in post["properties"]["body"]["properties"]
    assert post["properties"]["effects"]["enum"] == ["live", "dry-run"]
    assert read["properties"]["effects"]["enum"] == ["peek", "live"]
    assert {"channel_id", "limit", "cursor"} <= set(read["properties"])
    assert book["properties"]["body"]["required"] == ["quote_id"]
    assert "idempotency_key" in book["properties"]
    assert "idempotency_key" not in post["properties"]  # only where money may move


async def test_a_description_says_the_effects_and_the_route(mcp_agent: McpFor) -> None:
    tools: dict[str, Any] = {t["name"]: t for t in await (await mcp_agent()).tools()}

    read = tools["chat_list_messages"]["description"]
    book = tools["rides_book_trip"]["description"]

    assert "peek" in read
    assert "chat:mark_read" in read
    assert "GET /api/chat/channels/{channel_id}/messages" in read
    assert "idempotency_key" in book
    assert "gateway_get_approval" in book


async def test_initialize_names_the_server_and_offers_tools(mcp_agent: McpFor) -> None:
    result = await (await mcp_agent()).initialize()

    assert result["serverInfo"]["name"] == "agentgate"
    assert "tools" in result["capabilities"]
    assert "peek" in result["instructions"]
