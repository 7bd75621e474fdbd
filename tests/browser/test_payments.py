"""Alice's agent books a ride above its approval threshold; she approves it in her browser.

The agent is this test's own HTTP client. It registers (RFC 7591) and alice lets it
book and pay in the consent page (PKCE, as in test_consent.py); its grant then gets
a spending mandate (RFC 9396 ``payment_mandate``) whose approval threshold is below
the ride's price. Its booking is held (202, a link to poll); alice finds it in her
Approvals inbox with the amount, the agent and the ride, and approves it; the
agent's next poll finds the trip booked, and alice's Payments page shows the
payment as made by the agent, captured, through the simulated processor.

The mandate is written on the grant directly, in the server's database, because
the consent page does not ask for ``authorization_details`` on this branch yet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from seeds.rides import seed_id
from tests.support.processes import free_port, fresh_server

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from tests.browser.conftest import Login, Screenshot

AGENT_NAME = "Trip Booker"
SCOPE = "rides:read rides:book payments:spend"
CDG = str(seed_id("place:cdg"))
LOUVRE = str(seed_id("place:louvre"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("payments-server")


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[str]:
    """Its own server: alice's ledger and inbox hold only what this test does."""
    with fresh_server(workdir) as url:
        yield url


def give_mandate(database: Path, client_id: str, mandate: dict[str, Any]) -> None:
    """Put ``mandate`` on the grant alice gave the agent ``client_id`` (in the server's DB)."""
    with sqlite3.connect(database) as db:
        changed = db.execute(
            "UPDATE gw_grants SET authorization_details = ? "
            "WHERE agent_id = (SELECT id FROM gw_agents WHERE client_id = ?)",
            (json.dumps([mandate]), client_id),
        ).rowcount
    assert changed == 1


def connect_agent(page: Page, server: str) -> tuple[str, dict[str, str]]:
    """Register an agent, have the signed-in alice allow it; return (client id, bearer)."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    registered = httpx.post(
        f"{server}/oauth/register",
        json={
            "client_name": AGENT_NAME,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none",
            "scope": SCOPE,
        },
    )
    assert registered.status_code == 201, registered.text
    client_id: str = registered.json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    arrived: list[str] = []

    def callback(route: Route) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="You can close this tab.")

    page.route(f"{redirect_uri}*", callback)
    page.goto(
        "/oauth/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": SCOPE,
                "state": "s-1",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "resource": f"{server}/api",
            }
        )
    )
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{redirect_uri}*")
    code = parse_qs(urlsplit(arrived[-1]).query)["code"][0]
    token = httpx.post(
        f"{server}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    return client_id, {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_alice_approves_her_agents_ride_and_sees_it_paid_by_the_agent(
    page: Page, server: str, workdir: Path, login: Login, screenshot: Screenshot
) -> None:
    from playwright.sync_api import expect

    login(page, "alice")
    client_id, bearer = connect_agent(page, server)
    quote = httpx.post(
        f"{server}/api/rides/quotes",
        headers=bearer,
        json={"pickup_place_id": CDG, "dropoff_place_id": LOUVRE, "product": "comfort"},
    )
    assert quote.status_code == 201, quote.text
    price = quote.json()["price"]
    amount = f"{price['amount'] / 100:.2f} {price['currency']}"
    give_mandate(
        workdir / "agentgate.db",
        client_id,
        {
            "type": "payment_mandate",
            "currency": "EUR",
            "max_per_payment": 20_000,
            "budget": {"amount": 50_000, "period": "week"},
            "services": ["rides"],
            "approval_threshold": price["amount"] - 100,
        },
    )

    # The agent books: above its threshold, the gateway holds the call for alice.
    booking = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
    held = httpx.post(
        f"{server}/api/rides/trips", headers=bearer | booking, json={"quote_id": quote.json()["id"]}
    )
    assert held.status_code == 202, held.text
    poll_url = held.headers["location"]
    assert httpx.get(poll_url, headers=bearer).json()["status"] == "pending"

    # Alice sees it in her inbox: how much, which agent, what for.
    page.goto("/rides")
    expect(page.get_by_test_id("approvals-badge")).to_have_text("1")
    page.get_by_role("link", name=re.compile(r"^Approvals")).click()
    approval = page.get_by_test_id(f"approval-{held.json()['id']}")
    expect(approval.get_by_test_id("approval-amount")).to_have_text(amount)
    expect(approval.get_by_test_id("approval-agent")).to_have_text(AGENT_NAME)
    expect(approval).to_contain_text("CDG Airport")
    expect(approval).to_contain_text("Above the approval threshold")
    screenshot(page, "approvals")
    approval.get_by_role("button", name=f"Approve {amount}").click()

    expect(page.get_by_test_id("approval-status")).to_have_text("Approved and done")
    expect(page.get_by_test_id("approvals-badge")).to_have_count(0)

    # The agent's poll finds the service's answer: the trip, booked and paid.
    done = httpx.get(poll_url, headers=bearer).json()
    assert done["status"] == "completed", done
    trip = done["result"]["body"]
    assert done["result"]["status"] == 201
    assert trip["payment_receipt"]["status"] == "captured"

    # Her ledger: paid by the agent, captured, simulated.
    page.get_by_role("link", name="Payments", exact=True).click()
    row = page.get_by_test_id(f"payment-{trip['payment_id']}")
    expect(row).to_contain_text(f"paid by {AGENT_NAME}")
    expect(row).to_contain_text(amount)
    expect(row).to_contain_text("Paid")
    expect(page.get_by_test_id("simulated").first).to_contain_text("no real money moves")
    screenshot(page, "payments")
    row.get_by_role("link", name="Receipt").click()
    expect(page.get_by_test_id("receipt-status")).to_have_text("Paid")
    expect(page.get_by_test_id("receipt-paid-by")).to_contain_text(AGENT_NAME)

    # And her rides: the trip is there, paid, with its receipt.
    page.goto("/rides")
    expect(page.get_by_test_id(f"trip-{trip['id']}")).to_contain_text(f"Paid {amount}")
