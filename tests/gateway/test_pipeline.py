"""Every call to a service goes through the gateway pipeline, and says so in its headers."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.web import sign_in

PROBLEM = "application/problem+json"


async def _design_id(client: httpx.AsyncClient) -> str:
    channels = (await client.get("/api/chat/channels")).json()["items"]
    return str(next(c["id"] for c in channels if c["name"] == "design"))


async def test_an_anonymous_call_is_refused_with_a_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/chat/channels")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"] == "/problems/unauthorized"


async def test_a_person_reads_through_the_gateway(client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    response = await client.get("/api/chat/channels")
    assert response.status_code == 200
    assert {c["name"] for c in response.json()["items"]} >= {"general", "design"}


async def test_every_response_has_a_request_id_and_stage_timings(
        client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    response = await client.get("/api/chat/channels")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    stages = {part.split(";")[0] for part in response.headers["server-timing"].split(", ")}
    assert {"auth", "route", "authz", "effects", "forward", "total"} <= stages
    for other in (await client.get("/login"), await client.get("/nowhere")):
        assert "x-request-id" in other.headers
        assert "total;dur=" in other.headers["server-timing"]


async def test_the_callers_cookie_never_reaches_the_service(client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    app = client._transport.app  # type: ignore[attr-defined]
    seen: list[dict[str, str]] = []
    chat = app.state.services.get("chat")
    original = chat.client.request

    async def spy(method: str, url: str, **kwargs: object) -> httpx.Response:
        seen.append(dict(kwargs["headers"]))  # type: ignore[arg-type]
        return await original(method, url, **kwargs)  # type: ignore[arg-type]

    chat.client.request = spy
    await client.get("/api/chat/channels", headers={"Authorization": "Basic c2VjcmV0"})
    assert seen
    sent = {k.lower() for k in seen[0]}
    assert "txn-token" in sent
    assert "cookie" not in sent
    assert "authorization" not in sent


async def test_a_service_called_without_the_gateway_answers_401(
        client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    chat_app = app.state.services.get("chat").app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=chat_app),
                                 base_url="http://chat") as direct:
        response = await direct.get("/channels")
        forged = await direct.get("/channels", headers={"Txn-Token": "e30.e30.e30"})
    assert response.status_code == forged.status_code == 401
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("method", "path", "status", "slug"),
    [
        ("GET", "/api/nosuch/things", 404, "not-found"),
        ("GET", "/api/chat/no/such/path", 404, "not-found"),
        ("DELETE", "/api/chat/channels", 405, "method-not-allowed"),
    ],
)
async def test_unknown_routes_are_problems_not_forwarded(
        client: httpx.AsyncClient, method: str, path: str, status: int, slug: str) -> None:
    csrf = await sign_in(client, "alice")
    response = await client.request(method, path, headers={"X-CSRF-Token": csrf})
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == f"/problems/{slug}"


async def test_an_unsafe_call_without_csrf_is_refused_and_changes_nothing(
        client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, "alice")
    design = await _design_id(client)
    before = (await client.get(f"/api/chat/channels/{design}/messages")).json()["items"]
    refused = await client.post(f"/api/chat/channels/{design}/messages", json={"text": "hi"})
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/csrf-failed"
    after = (await client.get(f"/api/chat/channels/{design}/messages")).json()["items"]
    assert after == before
    posted = await client.post(f"/api/chat/channels/{design}/messages", json={"text": "hi"},
                               headers={"X-CSRF-Token": csrf})
    assert posted.status_code == 201


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, "alice")
    design = await _design_id(client)
    response = await client.post(
        f"/api/chat/channels/{design}/messages", content=b'{"text": ',
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


async def test_an_oversized_body_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, "alice")
    design = await _design_id(client)
    huge = b'{"text": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post(
        f"/api/chat/channels/{design}/messages", content=huge,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["max_bytes"] == 1_000_000


async def test_an_unreachable_service_is_a_503_problem(client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    app = client._transport.app  # type: ignore[attr-defined]
    chat = app.state.services.get("chat")

    async def down(*args: object, **kwargs: object) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    chat.client.request = down
    response = await client.get("/api/chat/channels")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["type"] == "/problems/service-unavailable"
