"""API tokens: a person creates, sees once, uses and revokes their own tokens on /tokens."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jwt

from gateway.oauth.tokens import ACCESS_TOKEN_ALG
from seeds.agents import TRIP_PLANNER_GRANT
from seeds.people import PEOPLE
from tests.support.agents import bearer, mint_access_token
from tests.web.conftest import signed_in
from tests.web.test_agents_pages import grant

_TOKEN = re.compile(r'data-testid="token-value">([^<]+)<')


async def create(client: httpx.AsyncClient, csrf: str, *, label: str = "backup script",
                 scopes: tuple[str, ...] = ("chat:read",), days: str = "30") -> httpx.Response:
    return await client.post("/tokens", data={"csrf_token": csrf, "label": label,
                                              "scope": list(scopes), "days": days})


def claims_of(app: FastAPI, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, app.state.access_keys.key_set(),
                                        algorithms=[ACCESS_TOKEN_ALG]).claims
    return claims


def shown_token(page: httpx.Response) -> str:
    match = _TOKEN.search(page.text)
    assert match, "the page shows no new token"
    return match.group(1)


async def test_a_new_token_is_shown_once_and_acts_as_the_person_within_its_scopes(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")

    created = await create(client, csrf)

    assert created.status_code == 200, created.text
    token = shown_token(created)
    claims = claims_of(app, token)
    assert claims["sub"] == str(PEOPLE["alice"].id)
    assert claims["client_id"] == "personal"
    assert "act" not in claims
    assert claims["scope"] == "chat:read"
    stored = await grant(app, uuid.UUID(claims["grant_id"]))
    assert stored.agent_id is None
    assert stored.label == "backup script"
    assert stored.expires_at is not None
    assert int(stored.expires_at.timestamp()) == claims["exp"]
    assert 29 * 86400 < claims["exp"] - claims["iat"] <= 30 * 86400
    # Listed by its name, never shown again.
    listing = await client.get("/tokens")
    assert "backup script" in listing.text
    assert token not in listing.text
    assert 'href="/tokens" aria-current="page">API tokens</a>' in listing.text

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver") as script:
        reads = await script.get("/api/chat/channels", headers=bearer(token))
        rides = await script.get("/api/rides/trips", headers=bearer(token))
    assert reads.status_code == 200, reads.text
    assert rides.status_code == 403
    assert rides.json()["type"] == "/problems/insufficient-scope"


async def test_a_revoked_token_stops_working(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    token = shown_token(await create(client, csrf))
    grant_id = claims_of(app, token)["grant_id"]

    revoked = await client.post(f"/tokens/{grant_id}/revoke", data={"csrf_token": csrf})

    assert revoked.status_code == 303
    assert "backup script" not in (await client.get("/tokens")).text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver") as script:
        refused = await script.get("/api/chat/channels", headers=bearer(token))
    assert refused.status_code == 401


async def test_a_personal_token_never_reaches_people_only_functions(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    token = shown_token(await create(client, csrf, scopes=("chat:read", "chat:write")))
    grant_id = claims_of(app, token)["grant_id"]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver",
                                 headers={**bearer(token), "accept": "application/json"}) as script:
        for method, path, data in [
            ("GET", "/tokens", None),
            ("POST", "/tokens", {"label": "more", "scope": "chat:read", "days": "90"}),
            ("POST", f"/tokens/{grant_id}/revoke", None),
            ("GET", "/agents", None),
            ("POST", f"/agents/{TRIP_PLANNER_GRANT}/revoke", None),
            ("GET", "/device", None),
        ]:
            response = await script.request(method, path, data=data)
            assert response.status_code == 403, (path, response.text)
            assert "no token can, whatever its scopes" in response.text


async def test_an_agent_token_can_not_open_the_tokens_page(app: FastAPI) -> None:
    token = await mint_access_token(app, TRIP_PLANNER_GRANT)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver",
                                 headers={"accept": "application/json"}) as agent:
        page = await agent.get("/tokens", headers=bearer(token))
        made = await agent.post("/tokens", headers=bearer(token),
                                data={"label": "x", "scope": "chat:read", "days": "7"})

    assert page.status_code == 403
    assert made.status_code == 403


async def test_bad_requests_are_refused_with_the_reason(client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")

    no_scope = await create(client, csrf, scopes=())
    too_long = await create(client, csrf, days="365")
    unknown = await create(client, csrf, scopes=("admin:everything",))
    no_name = await create(client, csrf, label="  ")
    forged = await create(client, "forged")

    assert no_scope.status_code == 422
    assert "Choose at least one" in no_scope.text
    assert too_long.status_code == 422
    assert unknown.status_code == 422
    assert no_name.status_code == 422
    assert forged.status_code == 403


async def test_another_persons_token_can_not_be_revoked(
        app: FastAPI, client: httpx.AsyncClient, other_client: httpx.AsyncClient) -> None:
    alice_csrf = await signed_in(client, "alice")
    token = shown_token(await create(client, alice_csrf))
    grant_id = claims_of(app, token)["grant_id"]
    bob_csrf = await signed_in(other_client, "bob")

    response = await other_client.post(f"/tokens/{grant_id}/revoke",
                                       data={"csrf_token": bob_csrf})

    assert response.status_code == 404
    assert (await grant(app, uuid.UUID(grant_id))).revoked_at is None


