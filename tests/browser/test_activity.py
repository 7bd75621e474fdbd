"""Alice's agent reads #design through the API; her Activity page shows that it did.

The agent is this test's own HTTP client, connected as in test_consent.py: it
registers (RFC 7591), alice approves it in the browser, it redeems the code (PKCE)
and reads #design with its token. Alice's Activity page then shows the read, named
for the agent, and filtering by the agent shows only its calls. The agent read in
peek mode (the default for an agent), so alice's unread badge still counts what it
did (her seeded 5, plus a message bob posts meanwhile), and bob's message does not
show "Seen by Alice" to him.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from seeds.people import PEOPLE
from tests.browser.conftest import sign_in
from tests.support.processes import SESSION_COOKIE, free_port, fresh_server, login_cookie

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from tests.browser.conftest import Login, Screenshot

AGENT_NAME = "Reading Assistant"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Its own server: alice's seeded 5 unread in #design, and no other test's agents."""
    with fresh_server(tmp_path_factory.mktemp("activity-server")) as url:
        yield url


def connect_agent(page: Page, server: str) -> dict[str, str]:
    """Register an agent, have the signed-in person approve it; return its bearer header."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    registered = httpx.post(f"{server}/oauth/register", json={
        "client_name": AGENT_NAME, "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none",
        "scope": "chat:read"})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    arrived: list[str] = []

    def callback(route: Route) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="You can close this tab.")

    page.route(f"{redirect_uri}*", callback)
    page.goto("/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "chat:read", "state": "s-1", "code_challenge": challenge,
        "code_challenge_method": "S256", "resource": f"{server}/api"}))
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{redirect_uri}*")
    code = parse_qs(urlsplit(arrived[-1]).query)["code"][0]
    token = httpx.post(f"{server}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_alices_activity_page_shows_her_agents_read(
        page: Page, server: str, login: Login, screenshot: Screenshot) -> None:
    from playwright.sync_api import expect

    def unread_design() -> str | None:
        page.goto("/chat")
        badge = page.get_by_test_id("unread-design")
        return badge.inner_text() if badge.count() else None

    login(page, "alice")
    # The seeded server (this module's own): alice has 5 unread in #design.
    assert unread_design() == "5"
    bearer = connect_agent(page, server)
    channels = httpx.get(f"{server}/api/chat/channels", headers=bearer)
    assert channels.status_code == 200, channels.text
    design = next(c["id"] for c in channels.json()["items"] if c["name"] == "design")

    # bob says something new in #design, so "seen by" can be checked on a message of his.
    bob_cookie, bob_csrf = login_cookie(server, "bob", PEOPLE["bob"].password)
    bob = {"Cookie": f"{SESSION_COOKIE}={bob_cookie}", "X-CSRF-Token": bob_csrf}
    posted = httpx.post(f"{server}/api/chat/channels/{design}/messages", headers=bob,
                        json={"text": "Did anyone look at the new mockups?"})
    assert posted.status_code == 201, posted.text
    bobs_message = posted.json()["id"]

    read = httpx.get(f"{server}/api/chat/channels/{design}/messages", headers=bearer)
    assert read.status_code == 200, read.text
    count = len(read.json()["items"])
    assert bobs_message in [m["id"] for m in read.json()["items"]]
    assert read.headers["preference-applied"] == "peek"
    # Nothing marked read: the 5 alice had, and bob's new one.
    assert unread_design() == "6"

    # bob's own view: his message is not "seen by" alice.
    assert page.context.browser is not None
    bobs_context = page.context.browser.new_context(base_url=server)
    try:
        bobs_page = bobs_context.new_page()
        sign_in(bobs_page, "bob")
        bobs_page.goto(f"/chat/{design}")
        expect(bobs_page.get_by_text("Did anyone look at the new mockups?")).to_be_visible()
        expect(bobs_page.get_by_test_id(f"seen-{bobs_message}")).to_have_count(0)
    finally:
        bobs_context.close()

    page.goto("/activity")
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()
    the_read = page.get_by_test_id("activity-entry").filter(has_text=f"{AGENT_NAME} read")
    expect(the_read).to_have_count(1)
    expect(the_read).to_contain_text(f"{AGENT_NAME} for you")
    expect(the_read).to_contain_text(
        f"{AGENT_NAME} read {count} messages in #design (peek: nothing marked read)")
    expect(the_read.get_by_test_id("mode")).to_have_text("peek")
    screenshot(page, "activity")

    page.get_by_test_id("agent-filter").select_option(label=AGENT_NAME)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/activity\?agent="))
    entries = page.get_by_test_id("activity-entry")
    expect(entries).to_have_count(2)
    for who in entries.locator("td.who").all_inner_texts():
        assert who == f"{AGENT_NAME} for you"
