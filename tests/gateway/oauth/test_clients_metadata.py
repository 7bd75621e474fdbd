"""Client ID Metadata Documents: fetched safely, self-naming, validated, cached, upserted."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import respx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent
from gateway.oauth.client_errors import InvalidClient, InvalidClientMetadata
from gateway.oauth.client_metadata import (
    cache_until,
    check_client_id_url,
    resolve_metadata_document,
    validate_metadata,
)
from gateway.oauth.safe_fetch import SafeFetcher
from services.common.db import make_engine, make_sessionmaker, utcnow

CLIENT_ID = "https://agent.example/oauth/client.json"
PINNED = "https://93.184.216.34/oauth/client.json"


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "client_id": CLIENT_ID, "client_name": "Trip Planner",
        "client_uri": "https://agent.example", "logo_uri": "https://agent.example/logo.png",
        "redirect_uris": ["http://127.0.0.1/callback", "https://agent.example/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none", "scope": "chat:read rides:read",
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
def fetcher() -> SafeFetcher:
    return SafeFetcher(resolver=public_resolver)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_a_document_becomes_an_agent(db: AsyncSession, fetcher: SafeFetcher,
                                           mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, json=document(), headers={"Cache-Control": "max-age=3600"})

    agent = await resolve_metadata_document(db, CLIENT_ID, fetcher)

    assert agent.registration == "metadata_document"
    assert agent.name == "Trip Planner"
    assert agent.publisher == "agent.example"
    assert agent.kind == "native"
    assert agent.token_endpoint_auth_method == "none"
    assert agent.redirect_uris == ["http://127.0.0.1/callback", "https://agent.example/cb"]
    assert agent.scope == "chat:read rides:read"
    assert agent.client_metadata["logo_uri"] == "https://agent.example/logo.png"
    expires = agent.metadata_expires_at
    assert expires is not None
    assert dt.timedelta(minutes=59) < expires - utcnow() <= dt.timedelta(hours=1)


async def test_the_cache_saves_a_fetch_and_expiry_refetches(
        db: AsyncSession, fetcher: SafeFetcher, mock: respx.MockRouter) -> None:
    route = mock.get(PINNED).respond(200, json=document())
    agent = await resolve_metadata_document(db, CLIENT_ID, fetcher)
    again = await resolve_metadata_document(db, CLIENT_ID, fetcher)
    assert again is agent
    assert route.call_count == 1

    agent.metadata_expires_at = utcnow() - dt.timedelta(seconds=1)
    route.respond(200, json=document(client_name="Trip Planner 2"))
    refreshed = await resolve_metadata_document(db, CLIENT_ID, fetcher)

    assert route.call_count == 2
    assert refreshed.id == agent.id
    assert refreshed.name == "Trip Planner 2"
    assert await db.scalar(select(func.count()).select_from(Agent)) == 1


async def test_a_document_naming_another_client_is_refused(
        db: AsyncSession, fetcher: SafeFetcher, mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, json=document(client_id="https://other.example/c.json"))
    with pytest.raises(InvalidClient, match="does not match"):
        await resolve_metadata_document(db, CLIENT_ID, fetcher)


@pytest.mark.parametrize("changes", [
    {"token_endpoint_auth_method": "client_secret_basic"},
    {"token_endpoint_auth_method": "client_secret_post"},
    {"client_secret": "s3cret"},
    {"redirect_uris": ["http://evil.example/cb"]},
    {"redirect_uris": ["https://agent.example/cb#x"]},
    {"grant_types": ["implicit"]},
    {"token_endpoint_auth_method": "private_key_jwt"},
    {"client_name": 42},
    {"logo_uri": "javascript:alert(1)"},
])
async def test_invalid_documents_are_refused_clearly(
        changes: dict[str, Any], db: AsyncSession, fetcher: SafeFetcher,
        mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, json=document(**changes))
    with pytest.raises(InvalidClient) as caught:
        await resolve_metadata_document(db, CLIENT_ID, fetcher)
    assert caught.value.error == "invalid_client"
    assert await db.scalar(select(func.count()).select_from(Agent)) == 0


async def test_fetch_failures_are_invalid_client(db: AsyncSession, fetcher: SafeFetcher,
                                                 mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(302, headers={"Location": "https://10.0.0.1/"})
    with pytest.raises(InvalidClient, match=r"could not be fetched.*redirect"):
        await resolve_metadata_document(db, CLIENT_ID, fetcher)


async def test_a_document_on_a_private_address_is_never_fetched(
        db: AsyncSession, mock: respx.MockRouter) -> None:
    async def private(host: str, port: int) -> list[str]:
        return ["10.0.0.7"]
    route = mock.get(url__regex=".*").respond(200, json=document())
    with pytest.raises(InvalidClient, match="forbidden address"):
        await resolve_metadata_document(db, CLIENT_ID, SafeFetcher(resolver=private))
    assert not route.called


async def test_a_json_array_is_not_a_document(db: AsyncSession, fetcher: SafeFetcher,
                                              mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, json=[document()])
    with pytest.raises(InvalidClient, match="not a JSON object"):
        await resolve_metadata_document(db, CLIENT_ID, fetcher)


async def test_a_registered_clients_id_is_not_taken_over(
        db: AsyncSession, fetcher: SafeFetcher, mock: respx.MockRouter) -> None:
    db.add(Agent(client_id=CLIENT_ID, name="Mine", registration="owner"))
    await db.flush()
    route = mock.get(PINNED).respond(200, json=document())
    with pytest.raises(InvalidClient, match="registered client"):
        await resolve_metadata_document(db, CLIENT_ID, fetcher)
    assert not route.called


async def test_publisher_comes_from_a_related_client_uri_only(
        db: AsyncSession, fetcher: SafeFetcher, mock: respx.MockRouter) -> None:
    mock.get(PINNED).respond(200, json=document(client_uri="https://bank.example"))
    agent = await resolve_metadata_document(db, CLIENT_ID, fetcher)
    assert agent.publisher == "agent.example"


@pytest.mark.parametrize("client_id", [
    "http://agent.example/client.json", "https://agent.example", "https://agent.example/",
    "https://agent.example/a/../client.json", "https://agent.example/./c.json",
    "https://agent.example/%2e%2e/c.json", "https://agent.example/c.json#x",
    "https://user@agent.example/c.json", "https://agent.example/c .json",
])
def test_client_id_urls_follow_the_draft(client_id: str) -> None:
    with pytest.raises(InvalidClient):
        check_client_id_url(client_id)


def test_loopback_http_client_ids_only_in_development() -> None:
    assert check_client_id_url("http://127.0.0.1:9000/c.json",
                               allow_loopback_http=True) == "127.0.0.1"
    with pytest.raises(InvalidClient):
        check_client_id_url("http://127.0.0.1:9000/c.json")


@pytest.mark.parametrize(("max_age", "expected"), [
    (None, dt.timedelta(hours=1)), (0, dt.timedelta(minutes=5)), (10, dt.timedelta(minutes=5)),
    (7200, dt.timedelta(hours=2)), (10**9, dt.timedelta(hours=24)),
])
def test_cache_lifetime_is_bounded(max_age: int | None, expected: dt.timedelta) -> None:
    now = utcnow()
    assert cache_until(max_age, now) - now == expected


@pytest.mark.parametrize("doc", [
    {"redirect_uris": ["https://a.example/cb"], "grant_types": "authorization_code"},
    {"redirect_uris": ["https://a.example/cb"], "grant_types": ["x"] * 11},
    {"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]},
    {"redirect_uris": ["https://a.example/cb"], "scope": ["chat:read"]},
    {"redirect_uris": ["https://a.example/cb"], "scope": "bad\"scope"},
    {"redirect_uris": []},
    {"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"},
    {"redirect_uris": ["https://a.example/cb"], "application_type": "desktop"},
    {"redirect_uris": ["http://127.0.0.1/cb"], "application_type": "web"},
    {"redirect_uris": ["https://a.example/cb"], "jwks": {"keys": [{"kty": "oct", "k": "AA"}]}},
    {"redirect_uris": ["https://a.example/cb"], "jwks": {"keys": []}},
    {"redirect_uris": ["https://a.example/cb"], "jwks_uri": "http://a.example/jwks"},
])
def test_metadata_validation(doc: dict[str, Any]) -> None:
    with pytest.raises(InvalidClientMetadata):
        validate_metadata(doc, default_auth_method="none", known_scopes={"chat:read"})


def test_unknown_scopes_are_left_out() -> None:
    metadata = validate_metadata(
        {"redirect_uris": ["https://a.example/cb"], "scope": "openid chat:read offline_access"},
        default_auth_method="none", known_scopes={"chat:read", "chat:write"})
    assert metadata.scope == "chat:read"
    assert metadata.document["scope"] == "chat:read"


def test_service_clients_need_no_redirect_uris() -> None:
    metadata = validate_metadata(
        {"grant_types": ["client_credentials"], "jwks_uri": "https://a.example/jwks"},
        default_auth_method="private_key_jwt")
    assert metadata.kind == "service"
    assert metadata.redirect_uris == []
