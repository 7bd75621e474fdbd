"""The tutorial agent (examples/agent) end to end against the in-process gateway.

The agent talks HTTP to the app through its own client (no cookies of alice's);
the test plays alice through the web client: she approves the device on /device
and the held booking on /approvals/{id}. Sleeps are recorded, not slept: the
device poll happens after alice decided (an approved code is redeemed however
soon it is polled), and the test checks the agent waited what it was told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from examples.agent import MANDATE, NAME, SCOPE, chat, oauth, rides
from tests.support.web import sign_in


class Clock:
    """A sleep that records how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def app_of(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
async def agent_http(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The agent's own HTTP client: the same app, none of alice's cookies."""
    transport = httpx.ASGITransport(app=app_of(client))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http


async def alice_approves_device(client: httpx.AsyncClient, user_code: str,
                                scopes: str = SCOPE) -> None:
    csrf = await sign_in(client, "alice")
    page = await client.get("/device", params={"user_code": user_code})
    assert page.status_code == 200, page.text
    assert NAME in page.text
    answer = await client.post("/device", data={
        "csrf_token": csrf, "user_code": user_code, "decision": "approve",
        "scope": scopes.split()})
    assert answer.status_code == 200, answer.text


async def connected(client: httpx.AsyncClient, http: httpx.AsyncClient,
                    clock: Clock) -> tuple[oauth.Gateway, str, oauth.Tokens]:
    gateway = await oauth.discover(http, "https://testserver")
    client_id = await oauth.register(http, gateway, name=NAME, scope=SCOPE)
    device = await oauth.start_device_authorization(
        http, gateway, client_id, scope=SCOPE, authorization_details=[MANDATE])
    await alice_approves_device(client, device.user_code)
    tokens = await oauth.poll_for_tokens(http, gateway, client_id, device, sleep=clock.sleep)
    return gateway, client_id, tokens


async def alice_badges(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get("/api/chat/channels")
    assert response.status_code == 200, response.text
    return {c["title"]: c["unread_count"] for c in response.json()["items"]}


async def test_the_agent_connects_peeks_and_books_with_402_and_202(
        client: httpx.AsyncClient, agent_http: httpx.AsyncClient) -> None:
    clock = Clock()
    gateway, client_id, tokens = await connected(client, agent_http, clock)
    assert clock.waits == [5]
    assert set(tokens.scope.split()) == set(SCOPE.split())
    assert tokens.authorization_details[0]["approval_threshold"] == 3000
    refreshed: list[oauth.Tokens] = []
    auth = oauth.TokenAuth(agent_http, gateway, client_id, tokens, on_refresh=refreshed.append)
    api = httpx.AsyncClient(transport=agent_http._transport, base_url="https://testserver",
                            auth=auth)
    badges_before = await alice_badges(client)

    async with api:
        news = await chat.whats_new(api)
        summary = chat.summarize(news)
        await chat.advance_cursors(api, news)
        again = chat.summarize(await chat.whats_new(api))

        within = await rides.quote(api, "Gare de Lyon", "Gare du Nord")
        preview = (await rides.dry_run(api, within["id"]))["payment_preview"]
        key = rides.new_key()
        trip = await rides.book(api, within["id"], key=key, sleep=clock.sleep)
        replayed = await rides.book(api, within["id"], key=key, sleep=clock.sleep)

        with pytest.raises(rides.PaymentRefused) as refused:
            await rides.book(api, (await rides.quote(api, "CDG", "Orly"))["id"])

        above = await rides.quote(api, "Orly", "Tour Eiffel")
        held = await rides.book(api, above["id"], sleep=clock.sleep)
        assert isinstance(held, rides.Held)
        # alice finds it in her inbox (the link is the gateway's public URL; the path is hers)
        inbox = await client.get("/approvals")
        at = httpx.URL(held.url).path
        assert at in inbox.text
        csrf = (await client.get("/auth/session")).json()["csrf_token"]
        decided = await client.post(f"{at}/approve", data={"csrf_token": csrf})
        assert decided.status_code == 303, decided.text
        clock.waits.clear()
        approved_trip = await rides.wait_for_person(api, held, sleep=clock.sleep)

    assert summary.messages > 0
    assert sum(summary.per_channel.values()) == summary.messages
    assert again.messages == 0
    assert await alice_badges(client) == badges_before
    assert preview["outcome"] == "would_pay"
    assert isinstance(trip, dict)
    assert trip["payment_receipt"]["status"] == "captured"
    assert isinstance(replayed, dict)
    assert replayed["id"] == trip["id"]
    assert refused.value.reason == "over_per_payment_cap"
    assert refused.value.fix_at is not None
    assert refused.value.fix_at.endswith("/agents")
    assert "change what I may spend" in refused.value.advice()
    assert held.approval["status"] == "pending"
    assert clock.waits == [held.retry_after]
    assert approved_trip["quote_id"] == above["id"]
    assert approved_trip["payment_receipt"]["amount"] == above["price"]["amount"]
    assert refreshed == []


async def test_the_agent_refreshes_an_expired_token_and_keeps_the_new_refresh_token(
        client: httpx.AsyncClient, agent_http: httpx.AsyncClient) -> None:
    gateway, client_id, tokens = await connected(client, agent_http, Clock())
    first_refresh = tokens.refresh_token
    tokens.expires_at = 0  # as if the agent had slept past its token's life
    refreshed: list[oauth.Tokens] = []
    auth = oauth.TokenAuth(agent_http, gateway, client_id, tokens, on_refresh=refreshed.append)

    response = await agent_http.get("/api/chat/channels", auth=auth)

    assert response.status_code == 200, response.text
    assert len(refreshed) == 1
    assert refreshed[0].refresh_token not in (None, first_refresh)
    assert auth.tokens is refreshed[0]


async def test_after_alice_revokes_the_agent_its_calls_and_refresh_fail(
        client: httpx.AsyncClient, agent_http: httpx.AsyncClient) -> None:
    gateway, client_id, tokens = await connected(client, agent_http, Clock())
    auth = oauth.TokenAuth(agent_http, gateway, client_id, tokens)
    assert (await agent_http.get("/api/chat/channels", auth=auth)).status_code == 200
    grant_id = await grant_of(app_of(client), tokens.access_token)
    csrf = (await client.get("/auth/session")).json()["csrf_token"]

    revoked = await client.post(f"/agents/{grant_id}/revoke", data={"csrf_token": csrf})
    after = await agent_http.get("/api/chat/channels", auth=auth)

    assert revoked.status_code == 303, revoked.text
    assert after.status_code == 401
    assert auth.refresh_error == "invalid_grant"


async def grant_of(app: FastAPI, access_token: str) -> str:
    from joserfc import jwt

    from gateway.oauth.tokens import ACCESS_TOKEN_ALG

    claims: dict[str, Any] = jwt.decode(access_token, app.state.access_keys.key_set(),
                                        algorithms=[ACCESS_TOKEN_ALG]).claims
    return str(claims["grant_id"])


def token_endpoint(answers: list[tuple[int, dict[str, Any]]]) -> httpx.MockTransport:
    """A token endpoint that gives ``answers`` in order (the client's side of section 3.5)."""
    def handle(request: httpx.Request) -> httpx.Response:
        status, body = answers.pop(0)
        return httpx.Response(status, json=body)
    return httpx.MockTransport(handle)


GATEWAY = oauth.Gateway("https://as", "https://as/token", "https://as/register",
                        "https://as/device", None, "https://as/api")
DEVICE = oauth.DeviceAuthorization("dc", "BCDF-GHJK", "https://as/device", None,
                                   expires_in=600, interval=5)
TOKEN = {"access_token": "at", "token_type": "Bearer", "expires_in": 300, "scope": "chat:read"}


async def test_polling_waits_the_interval_and_slows_down_for_good() -> None:
    clock = Clock()
    answers = [(400, {"error": "authorization_pending"}), (400, {"error": "slow_down"}),
               (400, {"error": "authorization_pending"}), (200, TOKEN)]
    async with httpx.AsyncClient(transport=token_endpoint(answers)) as http:
        tokens = await oauth.poll_for_tokens(http, GATEWAY, "client", DEVICE, sleep=clock.sleep)

    assert clock.waits == [5, 5, 10, 10]
    assert tokens.access_token == "at"


@pytest.mark.parametrize("error", ["expired_token", "access_denied"])
async def test_polling_stops_when_the_code_expires_or_the_person_denies(error: str) -> None:
    answers = [(400, {"error": "authorization_pending"}), (400, {"error": error})]
    async with httpx.AsyncClient(transport=token_endpoint(answers)) as http:
        with pytest.raises(oauth.OAuthFailed) as failed:
            await oauth.poll_for_tokens(http, GATEWAY, "client", DEVICE, sleep=Clock().sleep)

    assert failed.value.error == error


async def test_polling_gives_up_when_the_server_never_says_expired() -> None:
    answers = [(400, {"error": "authorization_pending"})] * 200
    short = oauth.DeviceAuthorization("dc", "BCDF-GHJK", "https://as/device", None,
                                      expires_in=20, interval=5)
    async with httpx.AsyncClient(transport=token_endpoint(answers)) as http:
        with pytest.raises(oauth.OAuthFailed) as failed:
            await oauth.poll_for_tokens(http, GATEWAY, "client", short, sleep=Clock().sleep)

    assert failed.value.error == "expired_token"
    assert len(answers) == 200 - 4


def trips_endpoint(answers: list[httpx.Response | Exception],
                   seen: list[httpx.Request]) -> httpx.MockTransport:
    """POST /api/rides/trips answering ``answers`` in order (an exception: no answer)."""
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    return httpx.MockTransport(handle)


IN_USE = httpx.Response(409, headers={"content-type": "application/problem+json",
                                      "retry-after": "2"},
                        json={"type": "/problems/idempotency-key-in-use"})
TOO_MANY = httpx.Response(429, headers={"content-type": "application/problem+json",
                                        "retry-after": "7"},
                         json={"type": "/problems/rate-limited"})
UNAVAILABLE = httpx.Response(503, headers={"content-type": "application/problem+json",
                                           "retry-after": "5"},
                             json={"type": "/problems/payment-unavailable", "charged": False})


@pytest.mark.parametrize(("first", "wait"), [
    (UNAVAILABLE, 5.0), (TOO_MANY, 7.0), (IN_USE, 2.0), (httpx.ReadTimeout("slow"), 2.0)],
    ids=["503", "429", "409-in-use", "timeout"])
async def test_a_booking_is_retried_with_the_same_key(first: httpx.Response | Exception,
                                                      wait: float) -> None:
    seen: list[httpx.Request] = []
    trip = {"id": "t1", "payment_receipt": {"status": "captured"}}
    answers = [first, httpx.Response(201, json=trip)]
    clock = Clock()
    async with httpx.AsyncClient(transport=trips_endpoint(answers, seen),
                                 base_url="https://as") as http:
        booked = await rides.book(http, "q1", sleep=clock.sleep)

    assert booked == trip
    assert len(seen) == 2
    assert seen[0].headers["idempotency-key"] == seen[1].headers["idempotency-key"]
    assert clock.waits == [wait]


async def test_a_refusal_is_not_retried() -> None:
    seen: list[httpx.Request] = []
    refusal = httpx.Response(402, headers={"content-type": "application/problem+json"}, json={
        "type": "/problems/payment-refused", "reason": "budget_exhausted",
        "detail": "The mandate's budget for this period is spent.",
        "resets_at": "2026-11-30T00:00:00+00:00", "fix_at": "https://as/agents"})
    async with httpx.AsyncClient(transport=trips_endpoint([refusal], seen),
                                 base_url="https://as") as http:
        with pytest.raises(rides.PaymentRefused) as refused:
            await rides.book(http, "q1", sleep=Clock().sleep)

    assert len(seen) == 1
    assert refused.value.reason == "budget_exhausted"
    assert "resets at 2026-11-30" in refused.value.advice()
