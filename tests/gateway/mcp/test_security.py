"""Who may speak MCP: audience-bound tokens, the REST API's checks, and bad input answered.

The endpoint is its own protected resource (``<issuer>/mcp``): a token for it is
refused at ``/api`` and a REST token is refused here. Every refusal before MCP is a
401 whose challenge points at the resource's metadata (RFC 9728 section 5.1); every
refusal of a call is a tool error or a JSON-RPC error, never a 500.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.identity.grants import revoke_grant
from seeds.chat import channel_id
from seeds.people import PEOPLE
from tests.gateway.mcp.conftest import (
    ALICE,
    DESIGN,
    EVERY_SCOPE,
    MCP_ACCEPT,
    McpClient,
    McpFor,
    app_of,
    mcp_token,
    structured,
)
from tests.support.agents import bearer, make_agent, make_grant, mint_access_token

LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
LEADERSHIP = str(channel_id("leadership"))  # alice's and dave's; not bob's


async def grant_of(client: httpx.AsyncClient, person: object = ALICE,
                   scope: str = "chat:read") -> object:
    async with app_of(client).state.write_sessionmaker() as db:
        agent = await make_agent(db, "Assistant")
        agent.scope = EVERY_SCOPE
        grant = await make_grant(db, person, agent, scope=scope)  # type: ignore[arg-type]
        await db.commit()
    return grant


async def post(client: httpx.AsyncClient, headers: dict[str, str],
               message: object = LIST_TOOLS) -> httpx.Response:
    return await client.post("/mcp", json=message, headers={"Accept": MCP_ACCEPT, **headers})


def challenge_of(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    value: str = response.headers["www-authenticate"]
    return value


async def test_no_token_gets_the_challenge_pointing_at_the_mcp_metadata(
        client: httpx.AsyncClient) -> None:
    issuer = app_of(client).state.settings.issuer

    challenge = challenge_of(await post(client, {}))

    metadata_url = f"{issuer}/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata_url}"' in challenge
    assert "error=" not in challenge  # no token, no error code (RFC 6750 section 3.1)
    metadata = (await client.get(metadata_url)).json()
    assert metadata["resource"] == f"{issuer}/mcp"
    assert metadata["authorization_servers"] == [issuer]
    assert "chat:read" in metadata["scopes_supported"]


async def test_a_rest_token_is_refused_at_mcp_and_an_mcp_token_at_rest(
        client: httpx.AsyncClient) -> None:
    app = app_of(client)
    grant = await grant_of(client)
    rest, mcp = await mint_access_token(app, grant), await mcp_token(app, grant)

    at_mcp = await post(client, bearer(rest))
    at_rest = await client.get("/api/chat/channels", headers=bearer(mcp))

    assert 'error="invalid_token"' in challenge_of(at_mcp)
    assert "oauth-protected-resource/mcp" in challenge_of(at_mcp)
    assert 'error="invalid_token"' in challenge_of(at_rest)
    assert "oauth-protected-resource/api" in challenge_of(at_rest)
    assert (await post(client, bearer(mcp))).status_code == 200


async def test_an_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    token = await mcp_token(app_of(client), await grant_of(client),
                            issued_at=int(time.time()) - 400, lifetime=300)

    response = await post(client, bearer(token))

    assert "expired" in response.json()["detail"]
    assert 'error="invalid_token"' in challenge_of(response)


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "", "eyJhbGciOiJub25lIn0.e30."])
async def test_a_malformed_token_is_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await post(client, {"Authorization": f"Bearer {token}"})

    challenge_of(response)


async def test_a_revoked_grants_token_is_refused(client: httpx.AsyncClient) -> None:
    app = app_of(client)
    grant = await grant_of(client)
    headers = bearer(await mcp_token(app, grant))
    assert (await post(client, headers)).status_code == 200

    async with app.state.write_sessionmaker() as db, db.begin():
        await revoke_grant(db, ALICE, grant.id)  # type: ignore[attr-defined]
    app.state.revocations.invalidate()  # as the person's "Revoke" does on this replica
    app.state.grant_cache.clear()

    assert "revoked" in (await post(client, headers)).json()["detail"]


async def test_a_missing_scope_is_the_http_403_step_up_challenge(
        client: httpx.AsyncClient, mcp_agent: McpFor) -> None:
    mcp = await mcp_agent("chat:read")
    issuer = app_of(client).state.settings.issuer

    challenge = await mcp.challenged("chat_post_message", {"channel_id": DESIGN,
                                                           "body": {"text": "hello"}})

    # The MCP spec's scope challenge: what the operation needs, and where to re-authorize.
    assert challenge.fields["error"] == "insufficient_scope"
    assert challenge.scopes == {"chat:write"}
    assert challenge.fields["resource_metadata"] == \
        f"{issuer}/.well-known/oauth-protected-resource/mcp"
    assert challenge.problem["missing_scopes"] == ["chat:write"]
    assert challenge.problem["instance"] == "/mcp"
    # Nothing was posted: alice's channel has no "hello".
    messages = await mcp.call("chat_list_messages", {"channel_id": DESIGN})
    assert "hello" not in [m["text"] for m in structured(messages)["items"]]
    # The same tool call with a token holding the scope goes through.
    writer = await mcp_agent("chat:read chat:write")
    posted = await writer.call("chat_post_message", {"channel_id": DESIGN,
                                                     "body": {"text": "hello"}})
    assert posted["isError"] is False, posted


async def test_another_persons_channel_is_refused_as_in_rest(client: httpx.AsyncClient) -> None:
    app = app_of(client)
    grant = await grant_of(client, PEOPLE["bob"].id)
    rest = await client.get(f"/api/chat/channels/{LEADERSHIP}/messages",
                            headers=bearer(await mint_access_token(app, grant)))
    mcp = McpClient(client, bearer(await mcp_token(app, grant)))

    result = await mcp.call("chat_list_messages", {"channel_id": LEADERSHIP})

    assert rest.status_code in (403, 404)
    assert result["isError"] is True
    assert structured(result)["status"] == rest.status_code
    assert structured(result)["type"] == rest.json()["type"]


@pytest.mark.parametrize(("arguments", "says"), [
    ({}, "'channel_id' is a required property"),
    ({"channel_id": DESIGN, "limit": "ten"}, "limit"),
    ({"channel_id": DESIGN, "effects": "dry-run"}, "effects"),
    ({"channel_id": DESIGN, "chanel": "x"}, "'chanel' was unexpected"),
])
async def test_invalid_arguments_are_a_tool_error_saying_which(
        mcp_agent: McpFor, arguments: dict[str, object], says: str) -> None:
    result = await (await mcp_agent()).call("chat_list_messages", arguments)

    assert result["isError"] is True
    assert structured(result)["status"] == 422
    assert says in structured(result)["detail"]


@pytest.mark.parametrize(("tool", "arguments"), [
    # Checked as get_channel, it would run list_messages at the service.
    ("chat_get_channel", {"channel_id": f"{DESIGN}/messages"}),
    # A dot segment the HTTP client collapses: get_thread would run get_channel.
    ("chat_get_thread", {"channel_id": DESIGN, "message_id": ".."}),
    ("chat_list_messages", {"channel_id": "../../mentions"}),
    ("chat_get_channel", {"channel_id": "."}),
])
async def test_an_argument_can_not_reach_another_operation(
        mcp_agent: McpFor, tool: str, arguments: dict[str, str]) -> None:
    result = await (await mcp_agent()).call(tool, arguments)

    assert result["isError"] is True
    problem = structured(result)
    assert problem["status"] == 422
    assert "not a single path segment" in problem["detail"]


@pytest.mark.parametrize("path", [
    f"/api/chat/channels/{DESIGN}%252Fmessages",  # the service would decode it to "/"
    f"/api/chat/channels/{DESIGN}%255cmessages",
    "/api/chat/channels/%252e%252e",
])
async def test_rest_refuses_a_path_the_service_would_route_elsewhere(
        client: httpx.AsyncClient, path: str) -> None:
    token = await mint_access_token(app_of(client), await grant_of(client))

    response = await client.get(path, headers=bearer(token))

    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/bad-request"


async def test_an_idempotency_key_with_a_newline_is_an_invalid_argument(
        mcp_agent: McpFor) -> None:
    mcp = await mcp_agent("rides:book payments:spend")

    result = await mcp.call("rides_book_trip", {
        "body": {"quote_id": "61db2085-0000-4000-8000-000000000000"},
        "idempotency_key": "trip-1\n"})

    assert result["isError"] is True
    assert "idempotency_key" in structured(result)["detail"]


async def test_the_approval_tool_refuses_an_argument_it_does_not_have(
        mcp_agent: McpFor) -> None:
    result = await (await mcp_agent()).call("gateway_get_approval", {
        "approval_id": "61db2085-0000-4000-8000-000000000000", "approvalid": "x"})

    assert result["isError"] is True
    assert "approvalid" in structured(result)["detail"]


async def test_an_unknown_tool_is_a_json_rpc_error(mcp_agent: McpFor) -> None:
    answer = await (await mcp_agent()).rpc("tools/call", {"name": "chat_drop_tables",
                                                          "arguments": {}})

    assert answer["error"]["code"] == -32602
    assert "chat_drop_tables" in answer["error"]["message"]


async def test_an_unknown_method_is_a_json_rpc_error(mcp_agent: McpFor) -> None:
    answer = await (await mcp_agent()).rpc("tools/destroy")

    assert answer["error"]["code"] == -32601


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"jsonrpc": "2.0", "id": 1}',
                                  b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}'])
async def test_a_malformed_message_is_answered_never_a_500(
        client: httpx.AsyncClient, body: bytes) -> None:
    headers = bearer(await mcp_token(app_of(client), await grant_of(client)))

    response = await client.post("/mcp", content=body, headers={
        "Accept": MCP_ACCEPT, "Content-Type": "application/json", **headers})

    assert 200 <= response.status_code < 500, response.text
    assert "error" in response.json()


async def test_a_nul_in_the_body_is_a_422_not_a_500(client: httpx.AsyncClient) -> None:
    headers = bearer(await mcp_token(app_of(client), await grant_of(client)))
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "chat_list_messages", "arguments": {"channel_id": "a\u0000b"}}}

    response = await post(client, headers, message)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_streamed_body_over_the_limit_is_a_413_not_a_500(
        client: httpx.AsyncClient) -> None:
    headers = bearer(await mcp_token(app_of(client), await grant_of(client)))
    limit = app_of(client).state.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read to find out
        yield b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "pad": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post("/mcp", content=chunks(), headers={
        "Accept": MCP_ACCEPT, "Content-Type": "application/json", **headers})

    assert response.status_code == 413, response.text


async def test_there_is_no_stream_to_get(client: httpx.AsyncClient) -> None:
    headers = bearer(await mcp_token(app_of(client), await grant_of(client)))

    response = await client.get("/mcp", headers={"Accept": "text/event-stream", **headers})

    assert response.status_code == 405
