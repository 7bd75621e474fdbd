"""The three modes through the gateway: who gets which, the headers, and the refusals.

Everything here is an HTTP call over the ASGI app with a bearer token, as an agent
(or alice's own API token) would make it.
"""

from __future__ import annotations

import httpx

from tests.gateway.effects.conftest import DESIGN, RANDOM, Rides, TokenFor, app_of
from tests.support.snapshots import snapshot
from tests.support.web import sign_in

MESSAGES = f"/api/chat/channels/{DESIGN}/messages"
PEEK = {"Prefer": "peek"}


async def design_counts(client: httpx.AsyncClient, alice: dict[str, str]) -> tuple[int, int]:
    """alice's unread and mention counts in #design, looked at without changing them."""
    channels = (await client.get("/api/chat/channels", headers=alice | PEEK)).json()["items"]
    [design] = [c for c in channels if c["id"] == DESIGN]
    return design["unread_count"], design["mention_count"]


async def test_an_agent_reads_as_a_peek_by_default(
        client: httpx.AsyncClient, agent: TokenFor, alice: dict[str, str]) -> None:
    assistant = await agent("chat:read chat:mark_read")
    before = await snapshot(app_of(client))

    response = await client.get(MESSAGES, headers=assistant)

    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "peek"
    assert response.headers["vary"] == "Prefer"
    assert await design_counts(client, alice) == (5, 2)
    assert await snapshot(app_of(client)) == before


async def test_an_agent_without_mark_read_is_refused_a_live_read(
        client: httpx.AsyncClient, agent: TokenFor, alice: dict[str, str]) -> None:
    assistant = await agent("chat:read")

    response = await client.get(MESSAGES, headers=assistant | {"Prefer": "effects=live"})

    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "/problems/insufficient-scope"
    assert problem["missing_scopes"] == ["chat:mark_read"]
    assert "chat:mark_read" in problem["detail"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert "chat:mark_read" in response.headers["www-authenticate"]
    assert response.headers["vary"] == "Prefer"
    assert await design_counts(client, alice) == (5, 2)


async def test_an_agent_with_mark_read_that_asks_reads_live(
        client: httpx.AsyncClient, agent: TokenFor, alice: dict[str, str]) -> None:
    assistant = await agent("chat:read chat:mark_read")

    response = await client.get(MESSAGES, headers=assistant | {"Prefer": "effects=live"})

    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "effects=live"
    assert await design_counts(client, alice) == (0, 0)


async def test_a_live_read_of_an_operation_without_read_effects_needs_no_effect_scope(
        client: httpx.AsyncClient, agent: TokenFor) -> None:
    assistant = await agent("rides:read")

    response = await client.get("/api/rides/trips", headers=assistant | {"Prefer": "effects=live"})

    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "effects=live"


async def test_a_person_reads_live_by_default_and_may_peek(
        client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    peeked = await client.get(MESSAGES, headers=alice | PEEK)
    assert peeked.headers["preference-applied"] == "peek"
    assert await design_counts(client, alice) == (5, 2)

    live = await client.get(MESSAGES, headers=alice)

    assert live.status_code == 200
    assert "preference-applied" not in live.headers
    assert live.headers["vary"] == "Prefer"
    assert await design_counts(client, alice) == (0, 0)


async def test_the_persons_web_pages_stay_live(client: httpx.AsyncClient,
                                               alice: dict[str, str]) -> None:
    await sign_in(client, "alice")

    page = await client.get(f"/chat/{DESIGN}")

    assert page.status_code == 200, page.text
    assert await design_counts(client, alice) == (0, 0)


async def test_dry_run_is_ignored_on_a_read(client: httpx.AsyncClient,
                                            alice: dict[str, str]) -> None:
    response = await client.get(MESSAGES, headers=alice | {"Prefer": "dry-run"})

    assert response.status_code == 200
    assert "preference-applied" not in response.headers
    assert await design_counts(client, alice) == (0, 0)


async def test_a_dry_run_post_returns_the_message_and_stores_nothing(
        client: httpx.AsyncClient, agent: TokenFor, alice: dict[str, str]) -> None:
    assistant = await agent("chat:read chat:write")
    before = await snapshot(app_of(client))

    response = await client.post(MESSAGES, json={"text": "Draft for @bob"},
                                 headers=assistant | {"Prefer": "dry-run"})

    assert response.status_code == 201, response.text
    assert response.headers["preference-applied"] == "dry-run"
    assert response.json()["text"] == "Draft for @bob"
    assert response.json()["mentions"] == ["bob"]
    assert await snapshot(app_of(client)) == before


async def test_a_dry_run_that_fails_validation_still_says_dry_run(
        client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    response = await client.post(MESSAGES, json={"text": ""},
                                 headers=alice | {"Prefer": "dry-run"})

    assert response.status_code == 422
    assert response.headers["preference-applied"] == "dry-run"
    assert response.headers["vary"] == "Prefer"


async def test_a_dry_run_booking_returns_the_trip_and_price_and_stores_nothing(
        client: httpx.AsyncClient, agent: TokenFor, rides: Rides) -> None:
    assistant = await agent("rides:read rides:book")
    quote = (await client.get(f"/api/rides/quotes/{rides.quote_id}", headers=assistant)).json()
    before = await snapshot(app_of(client))

    response = await client.post("/api/rides/trips", json={"quote_id": str(rides.quote_id)},
                                 headers=assistant | {"Prefer": "dry-run"})

    assert response.status_code == 201, response.text
    assert response.headers["preference-applied"] == "dry-run"
    trip = response.json()
    assert trip["quote_id"] == str(rides.quote_id)
    assert trip["fare"] == quote["price"]
    assert await snapshot(app_of(client)) == before


async def test_a_dry_run_cancel_returns_the_refund_and_cancels_nothing(
        client: httpx.AsyncClient, agent: TokenFor, rides: Rides) -> None:
    assistant = await agent("rides:read rides:book")
    before = await snapshot(app_of(client))

    response = await client.post(f"/api/rides/trips/{rides.trip_id}/cancel",
                                 headers=assistant | {"Prefer": "dry-run"})

    assert response.status_code == 200, response.text
    assert response.json()["trip"]["status"] == "cancelled"
    assert await snapshot(app_of(client)) == before


async def test_a_dry_run_join_and_mark_read_change_nothing(
        client: httpx.AsyncClient, agent: TokenFor, alice: dict[str, str]) -> None:
    assistant = await agent("chat:read chat:write chat:mark_read")
    newest = (await client.get(MESSAGES, headers=assistant)).json()["items"][0]["id"]
    before = await snapshot(app_of(client))

    joined = await client.post(f"/api/chat/channels/{RANDOM}/join",
                               headers=assistant | {"Prefer": "dry-run"})
    marked = await client.post(f"/api/chat/channels/{DESIGN}/read", json={"message_id": newest},
                               headers=assistant | {"Prefer": "dry-run"})

    assert joined.status_code == 200, joined.text
    assert joined.json()["is_member"] is True
    assert marked.status_code == 200, marked.text
    assert marked.json()["unread_count"] == 0
    assert await snapshot(app_of(client)) == before
