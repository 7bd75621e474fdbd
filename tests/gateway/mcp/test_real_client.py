"""The official MCP Python SDK client, with its own OAuth, against a served gateway.

Nothing here speaks MCP or OAuth by hand on the agent's side: the SDK's
``OAuthClientProvider`` finds the protected resource metadata from the 401, the
authorization server from it, registers itself (RFC 7591), sends the person's
browser to the consent page with PKCE and ``resource=<issuer>/mcp``, redeems the
code and retries; ``streamable_http_client`` and ``ClientSession`` then list and
call tools. When a tool needs a scope alice did not give, the gateway answers the
MCP spec's 403 scope challenge and the SDK asks her again (step-up), then retries.
The test plays the two humans around it: the agent's developer, who adds the
spending mandate the agent asks for to the authorization URL (RFC 9396
``authorization_details``; the SDK has no parameter for it), and alice, who signs
in, reads the consent page, unticks what she won't give, and allows.

The gateway runs as ``agentgate serve`` in its own process, as a user runs it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import httpx2
import pytest
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.types import CallToolResult

from seeds.people import PEOPLE
from tests.support.processes import (
    SESSION_COOKIE,
    fresh_server,
    login_cookie,
)

pytestmark = pytest.mark.slow

CALLBACK = "http://127.0.0.1:53682/callback"  # the agent's loopback redirect; never served
# What the agent asks to spend, in cents (RFC 9396); above 30.00 alice is asked first.
MANDATE = {"type": "payment_mandate", "currency": "EUR", "max_per_payment": 6000,
           "budget": {"amount": 20000, "period": "week"}, "approval_threshold": 3000,
           "services": ["rides"]}
# The SDK asks for every scope the resource supports (MCP authorization, "scope
# selection"); alice first gives the agent reading, booking and spending, not
# writing. When it comes back for chat:write (the step-up), she gives that too.
UNTICKED = {"chat:write"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_server(tmp_path_factory.mktemp("mcp-real-client")) as url:
        yield url


class Storage:
    """The SDK's TokenStorage, in memory: the client registration and the tokens."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class ConsentForm(HTMLParser):
    """The fields the consent form would post, with every box as the page ticks it."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.boxes: list[tuple[str, str]] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._in_form = attr.get("action") == "/oauth/authorize"
        elif tag == "input" and self._in_form and "name" in attr:
            if attr.get("type") == "hidden":
                self.fields.append((attr["name"], attr.get("value", "")))
            elif attr.get("type") == "checkbox":
                self.boxes.append((attr["name"], attr.get("value", "")))
                if "checked" in attr:
                    self.fields.append((attr["name"], attr.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


class Alice:
    """The person at her browser: signs in, reads the consent page, unticks, allows."""

    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        cookie, _ = login_cookie(gateway, "alice", PEOPLE["alice"].password)
        self.headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        self.offered: list[str] = []
        self.visits = 0
        self.pages: list[str] = []
        self.redirect: dict[str, str] = {}

    async def open(self, authorization_url: str) -> None:
        """The SDK's redirect_handler: the agent sends alice's browser here."""
        url = with_mandate(authorization_url)
        self.visits += 1
        unticked = UNTICKED if self.visits == 1 else set()
        async with httpx.AsyncClient(headers=self.headers, timeout=30) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            assert "Allow" in page.text
            assert "payment" in page.text.lower()
            self.pages.append(page.text)
            form = ConsentForm()
            form.feed(page.text)
            self.offered = [value for name, value in form.boxes if name == "scope"]
            fields = [(name, value) for name, value in form.fields
                      if not (name == "scope" and value in unticked)]
            if self.visits > 1:
                # A second consent ticks only what the agent holds: she adds chat:write.
                assert ("scope", "chat:write") not in form.fields
                fields += [("scope", scope) for scope in UNTICKED]
            answer = await browser.post(f"{self.gateway}/oauth/authorize",
                                        content=urlencode([*fields, ("decision", "approve")]),
                                        headers={"content-type":
                                                 "application/x-www-form-urlencoded"})
        assert answer.status_code in (302, 303), answer.text
        location = answer.headers["location"]
        assert location.startswith(CALLBACK)
        self.redirect = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    async def callback(self) -> AuthorizationCodeResult:
        """The SDK's callback_handler: what came back to the agent's redirect URI."""
        return AuthorizationCodeResult(code=self.redirect["code"],
                                       state=self.redirect.get("state"),
                                       iss=self.redirect.get("iss"))

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.gateway}{path}", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(
            f"/api/chat/channels/{channel_id}/messages?limit=50")["items"]
        return items

    def unread(self) -> dict[str, int]:
        return {c["title"]: c["unread_count"] for c in self.get("/api/chat/channels")["items"]}


def with_mandate(authorization_url: str) -> str:
    """The agent's developer adds the mandate it asks for (RFC 9396) to the URL."""
    return f"{authorization_url}&{urlencode({'authorization_details': json.dumps([MANDATE])})}"


def structured(result: CallToolResult) -> dict[str, Any]:
    content: dict[str, Any] | None = result.structured_content
    assert content is not None, result
    return content


def claims(token: str) -> dict[str, Any]:
    """The JWT's claims, unverified: the gateway checked them; the test reads them."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


async def test_the_sdk_client_registers_gets_consent_peeks_steps_up_and_pays(
        gateway: str) -> None:
    alice = Alice(gateway)
    storage = Storage()
    auth = OAuthClientProvider(
        f"{gateway}/mcp",
        OAuthClientMetadata(client_name="SDK Trip Agent", redirect_uris=[CALLBACK],
                            grant_types=["authorization_code", "refresh_token"],
                            response_types=["code"], token_endpoint_auth_method="none"),
        storage, redirect_handler=alice.open, callback_handler=alice.callback)
    unread_before = alice.unread()

    async with httpx2.AsyncClient(auth=auth, timeout=60) as http, \
            streamable_http_client(f"{gateway}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()

        # Discovery, registration and consent happened on the way in.
        assert storage.client is not None
        assert storage.tokens is not None
        assert "chat:write" in alice.offered  # the SDK asked for everything...
        granted = set((storage.tokens.scope or "").split())
        assert granted == set(alice.offered) - UNTICKED  # ...alice gave less
        token = claims(storage.tokens.access_token)
        assert token["aud"] in (f"{gateway}/mcp", [f"{gateway}/mcp"])
        assert token["act"]["sub"]  # the agent acts; alice is the subject
        assert token["sub"] != token["act"]["sub"]

        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert {"chat_list_messages", "rides_book_trip"} <= set(tools)
        assert tools["chat_list_messages"].annotations is not None
        assert tools["chat_list_messages"].annotations.read_only_hint is True

        # A peek read: the agent sees her messages; her unread badges don't move.
        channels = structured(await session.call_tool("chat_list_channels", {}))["items"]
        design = next(c for c in channels if c["title"] == "design")
        page = await session.call_tool("chat_list_messages", {"channel_id": design["id"]})
        assert not page.is_error, page
        assert structured(page)["items"]
        assert alice.unread() == unread_before

        # What she unticked: the gateway answers 403 insufficient_scope, the SDK sends
        # her to consent again (step-up), she gives chat:write, and the call is retried.
        posted = await session.call_tool("chat_post_message", {
            "channel_id": design["id"], "body": {"text": "Booked us a ride at 6."}})
        assert not posted.is_error, posted
        assert alice.visits == 2
        # One connection, made what she allowed the second time, not a second one.
        assert "SDK Trip Agent is already connected." in alice.pages[1]
        assert "chat:write" in (storage.tokens.scope or "").split()
        [message] = [m for m in alice.messages(design["id"])
                     if m["text"] == "Booked us a ride at 6."]
        assert message["author"]["username"] == "alice"
        assert message["via"]["name"] == "SDK Trip Agent"

        # A dry-run booking: what the mandate would do; nothing booked, nothing paid.
        places = structured(await session.call_tool(
            "rides_search_places", {"q": "Gare", "limit": 10}))["items"]
        by_name = {p["name"]: p["id"] for p in places}
        quote = structured(await session.call_tool("rides_create_quote", {"body": {
            "pickup_place_id": by_name["Gare de Lyon"],
            "dropoff_place_id": by_name["Gare du Nord"], "product": "standard"}}))
        assert quote["price"]["amount"] <= MANDATE["approval_threshold"]
        preview = structured(await session.call_tool("rides_book_trip", {
            "body": {"quote_id": quote["id"]}, "effects": "dry-run"}))
        assert preview["payment_preview"]["outcome"] == "would_pay"

        # The paid booking: within the mandate, charged, on alice's ledger as the agent's.
        trip = structured(await session.call_tool("rides_book_trip", {
            "body": {"quote_id": quote["id"]}, "idempotency_key": "sdk-trip-1"}))
        receipt = trip["payment_receipt"]
        payment = alice.get(f"/payments/{receipt['id']}")
        assert payment["amount"] == quote["price"]["amount"]
        assert payment["status"] == "captured"
        assert payment["paid_by"] == "SDK Trip Agent"


async def test_an_unauthenticated_call_points_the_client_at_the_resource_metadata(
        gateway: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{gateway}/mcp", json={
            "jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"accept": "application/json, text/event-stream"})
        assert answer.status_code == 401
        challenge = answer.headers["www-authenticate"]
        match = re.search(r'resource_metadata="([^"]+)"', challenge)
        assert match is not None, challenge
        metadata = (await http.get(match.group(1))).json()
    assert metadata["resource"] == f"{gateway}/mcp"
    assert metadata["authorization_servers"] == [gateway]
    assert "payments:spend" in metadata["scopes_supported"]
