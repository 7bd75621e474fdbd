"""An agent connects, reads and is cut off, with alice deciding in a real browser.

The agent is this test's own HTTP client: it registers (RFC 7591), sends alice's
browser to the consent page with PKCE, asking to read and to write; alice unticks
writing and keeps one channel. It receives the code on its loopback redirect
(intercepted by Playwright, as a native agent's local listener would), redeems it
and reads her chat with the token. Alice then revokes it on Connected agents, and
its next call is refused.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.support.processes import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from tests.browser.conftest import Login, Screenshot

AGENT_NAME = "Inbox Summarizer"
READ_CHAT = "Read your channels, messages and threads"
WRITE_CHAT = "Post messages and create or join channels as you"


def register_native_agent(server: str, redirect_uri: str) -> str:
    response = httpx.post(f"{server}/oauth/register", json={
        "client_name": AGENT_NAME, "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none", "scope": "chat:read chat:write"})
    assert response.status_code == 201, response.text
    client_id: str = response.json()["client_id"]
    return client_id


def test_alice_connects_an_agent_it_reads_she_revokes_it_is_refused(
        page: Page, server: str, login: Login, screenshot: Screenshot) -> None:
    from playwright.sync_api import expect

    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    client_id = register_native_agent(server, redirect_uri)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "chat:read chat:write", "state": "s-1", "code_challenge": challenge,
        "code_challenge_method": "S256", "resource": f"{server}/api"})

    # The agent's loopback listener: Playwright answers for it and keeps the URL.
    arrived: list[str] = []

    def callback(route: Route) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="You can close this tab.")

    page.route(f"{redirect_uri}*", callback)

    login(page, "alice")
    page.goto(f"/oauth/authorize?{query}")
    expect(page.get_by_role("heading", name=f"Allow {AGENT_NAME} to act for you?")).to_be_visible()
    scopes = page.get_by_test_id("consent-scopes")
    expect(scopes).to_contain_text(READ_CHAT)
    expect(scopes.get_by_label(WRITE_CHAT)).to_be_checked()
    # Alice lets it read, not write, and see #design only.
    scopes.get_by_label(WRITE_CHAT).uncheck()
    screenshot(page, "consent")
    page.get_by_label("Every one, including ones added later").uncheck()
    for other in ("general", "leadership", "random", "Bob Chen", "Carol Diaz"):
        page.get_by_label(other, exact=True).uncheck()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{redirect_uri}*")

    params = {k: v[0] for k, v in parse_qs(urlsplit(arrived[-1]).query).items()}
    assert params["state"] == "s-1"
    assert params["iss"] == server
    token = httpx.post(f"{server}/oauth/token", data={
        "grant_type": "authorization_code", "code": params["code"],
        "redirect_uri": redirect_uri, "client_id": client_id, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "chat:read"
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}

    read = httpx.get(f"{server}/api/chat/channels", headers=bearer)
    assert read.status_code == 200, read.text
    assert [c["name"] for c in read.json()["items"]] == ["design"]

    page.goto("/agents")
    card = page.locator("article.grant", has=page.get_by_role("heading", name=AGENT_NAME))
    expect(card).to_contain_text(READ_CHAT)
    expect(card).not_to_contain_text(WRITE_CHAT)
    expect(card).to_contain_text("Only these channels")
    card.get_by_text("Revoke…").first.click()
    card.get_by_role("button", name="Yes, revoke").first.click()
    expect(page.get_by_role("status")).to_contain_text("Access revoked")
    expect(page.get_by_role("heading", name=AGENT_NAME)).to_have_count(0)

    # Revocation reaches every token within a second.
    deadline = time.monotonic() + 3
    while True:
        refused = httpx.get(f"{server}/api/chat/channels", headers=bearer)
        if refused.status_code == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert refused.status_code == 401, refused.text
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
