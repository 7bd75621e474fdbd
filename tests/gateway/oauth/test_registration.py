"""Dynamic client registration (RFC 7591): public and confidential clients, and refusals."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import OKPKey
from sqlalchemy import func, select

from gateway.config import Settings
from gateway.identity.models import Agent
from gateway.oauth.client_errors import InvalidClientMetadata, InvalidRedirectUri
from gateway.oauth.client_metadata import validate_metadata
from gateway.oauth.clients import ClientRegistry

PUBLIC = {
    "client_name": "CLI Agent",
    "redirect_uris": ["http://127.0.0.1/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "scope": "chat:read",
}


async def register(client: httpx.AsyncClient, metadata: Any) -> httpx.Response:
    return await client.post("/oauth/register", json=metadata)


async def agent_count(app: FastAPI) -> int:
    async with app.state.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(Agent)) or 0)


async def test_a_public_client_registers(client: httpx.AsyncClient,
                                         gateway_app: FastAPI) -> None:
    response = await register(client, PUBLIC)

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"].startswith("agt_")
    assert isinstance(body["client_id_issued_at"], int)
    assert "client_secret" not in body
    assert body["redirect_uris"] == PUBLIC["redirect_uris"]
    assert body["token_endpoint_auth_method"] == "none"
    async with gateway_app.state.sessionmaker() as db:
        agent = await db.scalar(select(Agent).where(Agent.client_id == body["client_id"]))
    assert agent is not None
    assert agent.registration == "dynamic"
    assert agent.kind == "native"
    assert agent.name == "CLI Agent"
    assert agent.client_secret_hash is None


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_confidential_client_gets_its_secret_once(
        method: str, client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    response = await register(client, {**PUBLIC, "redirect_uris": ["https://a.example/cb"],
                                       "token_endpoint_auth_method": method})

    assert response.status_code == 201, response.text
    body = response.json()
    secret = body["client_secret"]
    assert body["client_secret_expires_at"] == 0
    registry = ClientRegistry(Settings(env="test"))
    async with gateway_app.state.sessionmaker() as db:
        agent = await db.scalar(select(Agent).where(Agent.client_id == body["client_id"]))
        assert agent is not None
        assert agent.kind == "web"
        assert agent.client_secret_hash
        assert secret not in agent.client_secret_hash
        if method == "client_secret_basic":
            raw = base64.b64encode(f"{body['client_id']}:{secret}".encode()).decode()
            found = await registry.authenticate(db, None, {}, {"Authorization": f"Basic {raw}"},
                                                "token")
        else:
            found = await registry.authenticate(
                db, None, {"client_id": body["client_id"], "client_secret": secret}, {}, "token")
    assert found.id == agent.id


async def test_the_default_method_is_client_secret_basic(client: httpx.AsyncClient) -> None:
    metadata = {k: v for k, v in PUBLIC.items() if k != "token_endpoint_auth_method"}
    body = (await register(client, metadata)).json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["client_secret"]


async def test_a_private_key_jwt_client_registers_its_keys(client: httpx.AsyncClient) -> None:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "k1"})
    response = await register(client, {
        "client_name": "Batch agent", "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.as_dict(private=False)]}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert "client_secret" not in body
    assert body["jwks"]["keys"][0]["kid"] == "k1"


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "/problems/oauth-error"
    assert body["status"] == 400
    assert body["detail"] == body["error_description"]
    return str(body["error"])


BAD_REDIRECT_URIS: list[Any] = [
    ["https://a.example/cb#frag"], ["http://a.example/cb"], ["javascript:alert(1)"],
    ["myapp:/cb"], "https://a.example/cb", [42], [f"https://a.example/{i}" for i in range(300)],
    ["https://a.example/" + "x" * 5000],
]
BAD_METADATA: list[dict[str, Any]] = [
    {"grant_types": ["implicit"]},
    {"grant_types": ["password"]},
    {"grant_types": "authorization_code"},
    {"grant_types": ["authorization_code"] * 1000},
    {"response_types": ["token"]},
    {"token_endpoint_auth_method": "client_secret_jwt"},
    {"token_endpoint_auth_method": 7},
    {"token_endpoint_auth_method": "private_key_jwt"},
    {"client_name": ["a"]},
    {"client_name": "x" * 500},
    {"scope": "chat:read bad\\scope"},
    {"scope": 12},
    {"logo_uri": "http://a.example/logo.png"},
    {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
    {"jwks": "not a set"},
    {"jwks_uri": "https://a.example/jwks", "jwks": {"keys": []}},
    {"grant_types": ["client_credentials"], "response_types": None},
    {"redirect_uris": []},
    {"application_type": "toaster"},
]


@pytest.mark.parametrize("redirect_uris", BAD_REDIRECT_URIS)
def test_bad_redirect_uris_are_invalid_redirect_uri(redirect_uris: Any) -> None:
    with pytest.raises(InvalidRedirectUri):
        validate_metadata({**PUBLIC, "redirect_uris": redirect_uris},
                          default_auth_method="client_secret_basic")


@pytest.mark.parametrize("changes", BAD_METADATA)
def test_invalid_metadata_is_invalid_client_metadata(changes: dict[str, Any]) -> None:
    metadata = {k: v for k, v in {**PUBLIC, **changes}.items() if v is not None}
    with pytest.raises(InvalidClientMetadata) as caught:
        validate_metadata(metadata, default_auth_method="client_secret_basic",
                          known_scopes={"chat:read", "chat:write"})
    assert caught.value.error == "invalid_client_metadata"


async def test_a_bad_redirect_uri_answers_invalid_redirect_uri(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    before = await agent_count(gateway_app)
    for redirect_uris in (BAD_REDIRECT_URIS[0], BAD_REDIRECT_URIS[6]):
        response = await register(client, {**PUBLIC, "redirect_uris": redirect_uris})
        assert error_of(response) == "invalid_redirect_uri"
    assert await agent_count(gateway_app) == before


async def test_invalid_metadata_answers_invalid_client_metadata(
        client: httpx.AsyncClient) -> None:
    for changes in (BAD_METADATA[0], BAD_METADATA[3], BAD_METADATA[10], BAD_METADATA[13]):
        response = await register(client, {**PUBLIC, **changes})
        assert error_of(response) == "invalid_client_metadata"


NOT_METADATA = [
    (b"{not json", "application/json"),
    (b"[]", "application/json"),
    (b'"a string"', "application/json"),
    (b"null", "application/json"),
    (b"client_name=x", "application/x-www-form-urlencoded"),
    (b"[" * 10_000, "application/json"),
    (b'{"client_name": "' + b"x" * 40_000 + b'"}', "application/json"),
]


async def test_bodies_that_are_not_metadata(client: httpx.AsyncClient) -> None:
    for content, content_type in NOT_METADATA:
        response = await client.post("/oauth/register", content=content,
                                     headers={"Content-Type": content_type})
        assert error_of(response) == "invalid_client_metadata", content[:20]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
FIELDS = ["redirect_uris", "grant_types", "response_types", "token_endpoint_auth_method",
          "client_name", "client_uri", "logo_uri", "scope", "jwks", "jwks_uri", "contacts",
          "application_type", "software_id"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
       | json_values)
async def test_nonsense_never_gives_a_500(client: httpx.AsyncClient, metadata: Any) -> None:
    response = await register(client, metadata)
    # 422: the gateway refuses NUL characters in any body before routing.
    assert response.status_code in (201, 400, 422), response.text


async def test_the_response_says_which_scopes_were_kept(client: httpx.AsyncClient) -> None:
    response = await register(client, {**PUBLIC, "scope": "openid chat:read offline_access"})
    assert response.status_code == 201, response.text
    assert response.json()["scope"] == "chat:read"
