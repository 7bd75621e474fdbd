"""Client authentication at the token endpoint: none, secrets, private_key_jwt, and refusals."""

from __future__ import annotations

import base64
import json
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
import respx
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.identity.models import Agent
from gateway.oauth.client_auth import JWT_BEARER, hash_client_secret, new_client_secret
from gateway.oauth.client_errors import InvalidClient
from gateway.oauth.clients import ClientRegistry
from gateway.oauth.safe_fetch import SafeFetcher
from services.common.db import make_engine, make_sessionmaker

ISSUER = "https://gateway.test"
TOKEN_ENDPOINT = f"{ISSUER}/oauth/token"
JWKS_URI = "https://agent.example/jwks.json"
JWKS_PINNED = "https://93.184.216.34/jwks.json"
ALGS = ["RS256", "ES256", "EdDSA", "HS256", "none"]
Key = OKPKey | ECKey | RSAKey


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
def registry() -> ClientRegistry:
    settings = Settings(env="test", public_url=ISSUER)
    return ClientRegistry(settings, fetcher=SafeFetcher(resolver=public_resolver))


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def agent(db: AsyncSession, method: str, *, secret: str | None = None,
                jwks: dict[str, Any] | None = None, jwks_uri: str | None = None) -> Agent:
    row = Agent(client_id=f"c-{uuid.uuid4().hex}", name="Agent", registration="dynamic",
                token_endpoint_auth_method=method,
                client_secret_hash=hash_client_secret(secret) if secret else None,
                jwks=jwks, jwks_uri=jwks_uri)
    db.add(row)
    await db.flush()
    return row


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def keyset(*keys: Key) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def ed_key(kid: str = "k1") -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": kid})


def assertion(key: Any, client_id: str, *, alg: str = "EdDSA", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": client_id, "sub": client_id, "aud": TOKEN_ENDPOINT, "iat": now,
               "exp": now + 60, "jti": uuid.uuid4().hex}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    header = {"alg": alg}
    if getattr(key, "kid", None):
        header["kid"] = key.kid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(header, payload, key, algorithms=ALGS)


def jwt_form(token: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": token}


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}."


# --- none ---------------------------------------------------------------------------


async def test_a_public_client_just_names_itself(db: AsyncSession,
                                                 registry: ClientRegistry) -> None:
    public = await agent(db, "none")
    found = await registry.authenticate(db, None, {"client_id": public.client_id}, {}, "token")
    assert found.id == public.id


async def test_unknown_and_missing_clients_are_refused(db: AsyncSession,
                                                      registry: ClientRegistry) -> None:
    with pytest.raises(InvalidClient, match="Unknown"):
        await registry.authenticate(db, None, {"client_id": "nobody"}, {}, "token")
    with pytest.raises(InvalidClient, match="missing"):
        await registry.authenticate(db, None, {}, {}, "token")


async def test_a_confidential_client_cannot_skip_its_secret(db: AsyncSession,
                                                            registry: ClientRegistry) -> None:
    confidential = await agent(db, "client_secret_basic", secret="s3cret")
    with pytest.raises(InvalidClient, match="client_secret_basic, not none"):
        await registry.authenticate(db, confidential.client_id, {}, {}, "token")


async def test_a_public_client_with_a_secret_on_record_is_refused(
        db: AsyncSession, registry: ClientRegistry) -> None:
    odd = await agent(db, "none", secret="leftover")
    with pytest.raises(InvalidClient, match="has a secret"):
        await registry.authenticate(db, odd.client_id, {}, {}, "token")


# --- client secrets ------------------------------------------------------------------


async def test_client_secret_basic(db: AsyncSession, registry: ClientRegistry) -> None:
    secret, _ = new_client_secret()
    client = await agent(db, "client_secret_basic", secret=secret)
    found = await registry.authenticate(db, None, {}, basic(client.client_id, secret), "token")
    assert found.id == client.id


async def test_basic_credentials_are_form_urlencoded(db: AsyncSession,
                                                     registry: ClientRegistry) -> None:
    secret = "a:b+c d%é"
    client = await agent(db, "client_secret_basic", secret=secret)
    found = await registry.authenticate(db, None, {}, basic(client.client_id, secret), "token")
    assert found.id == client.id


async def test_client_secret_post(db: AsyncSession, registry: ClientRegistry) -> None:
    client = await agent(db, "client_secret_post", secret="s3cret")
    form = {"client_id": client.client_id, "client_secret": "s3cret"}
    assert (await registry.authenticate(db, None, form, {}, "token")).id == client.id


async def test_a_wrong_secret_is_refused(db: AsyncSession, registry: ClientRegistry) -> None:
    client = await agent(db, "client_secret_basic", secret="s3cret")
    with pytest.raises(InvalidClient, match="secret is wrong"):
        await registry.authenticate(db, None, {}, basic(client.client_id, "guess"), "token")


@pytest.mark.parametrize(("registered", "presented"), [
    ("client_secret_basic", "post"), ("client_secret_post", "basic")])
async def test_the_registered_method_and_no_other(registered: str, presented: str,
                                                  db: AsyncSession,
                                                  registry: ClientRegistry) -> None:
    client = await agent(db, registered, secret="s3cret")
    form, headers = ({"client_id": client.client_id, "client_secret": "s3cret"}, {}) \
        if presented == "post" else ({}, basic(client.client_id, "s3cret"))
    with pytest.raises(InvalidClient, match=f"authenticates with {registered}"):
        await registry.authenticate(db, None, form, headers, "token")


async def test_two_methods_at_once_are_refused(db: AsyncSession,
                                               registry: ClientRegistry) -> None:
    client = await agent(db, "client_secret_basic", secret="s3cret")
    form = {"client_id": client.client_id, "client_secret": "s3cret"}
    with pytest.raises(InvalidClient, match="one client authentication method"):
        await registry.authenticate(db, None, form, basic(client.client_id, "s3cret"), "token")


async def test_client_id_must_agree_with_the_credentials(db: AsyncSession,
                                                         registry: ClientRegistry) -> None:
    client = await agent(db, "client_secret_basic", secret="s3cret")
    with pytest.raises(InvalidClient, match="differs"):
        await registry.authenticate(db, None, {"client_id": "someone-else"},
                                    basic(client.client_id, "s3cret"), "token")


@pytest.mark.parametrize("authorization", [
    "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:x").decode()])
async def test_malformed_basic_credentials(authorization: str, db: AsyncSession,
                                           registry: ClientRegistry) -> None:
    with pytest.raises(InvalidClient):
        await registry.authenticate(db, None, {}, {"Authorization": authorization}, "token")


# --- private_key_jwt -----------------------------------------------------------------


@pytest.mark.parametrize("make_key", [
    lambda: (ed_key(), "EdDSA"),
    lambda: (ECKey.generate_key("P-256", parameters={"kid": "ec"}), "ES256"),
    lambda: (RSAKey.generate_key(2048, parameters={"kid": "rsa"}), "RS256"),
])
async def test_private_key_jwt(make_key: Any, db: AsyncSession,
                               registry: ClientRegistry) -> None:
    key, alg = make_key()
    client = await agent(db, "private_key_jwt", jwks=keyset(key))
    token = assertion(key, client.client_id, alg=alg)
    assert (await registry.authenticate(db, None, jwt_form(token), {}, "token")).id == client.id


async def test_the_issuer_is_an_audience_too(db: AsyncSession,
                                             registry: ClientRegistry) -> None:
    key = ed_key()
    client = await agent(db, "private_key_jwt", jwks=keyset(key))
    token = assertion(key, client.client_id, aud=[ISSUER])
    assert (await registry.authenticate(db, None, jwt_form(token), {}, TOKEN_ENDPOINT)).id \
        == client.id


@pytest.mark.parametrize(("claims", "match"), [
    ({"aud": "https://other.example/token"}, "aud"),
    ({"aud": None}, "aud"),
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"exp": None}, "exp"),
    ({"exp": int(time.time()) + 3600}, "too long"),
    ({"iat": int(time.time()) + 600}, "future"),
    ({"jti": None}, "jti"),
    ({"iss": "someone-else"}, "iss and sub"),
])
async def test_bad_assertion_claims(claims: dict[str, Any], match: str, db: AsyncSession,
                                    registry: ClientRegistry) -> None:
    key = ed_key()
    client = await agent(db, "private_key_jwt", jwks=keyset(key))
    token = assertion(key, client.client_id, **claims)
    with pytest.raises(InvalidClient, match=match):
        await registry.authenticate(db, None, jwt_form(token), {}, "token")


async def test_an_assertion_signed_by_another_key_is_refused(
        db: AsyncSession, registry: ClientRegistry) -> None:
    client = await agent(db, "private_key_jwt", jwks=keyset(ed_key("k1")))
    token = assertion(ed_key("k1"), client.client_id)
    with pytest.raises(InvalidClient, match="does not verify"):
        await registry.authenticate(db, None, jwt_form(token), {}, "token")


async def test_a_jti_is_accepted_once(db: AsyncSession, registry: ClientRegistry) -> None:
    key = ed_key()
    client = await agent(db, "private_key_jwt", jwks=keyset(key))
    token = assertion(key, client.client_id)
    await registry.authenticate(db, None, jwt_form(token), {}, "token")
    with pytest.raises(InvalidClient, match="replay"):
        await registry.authenticate(db, None, jwt_form(token), {}, "token")
    # The same jti in a freshly signed assertion is still a replay.
    again = assertion(key, client.client_id, jti=json.loads(
        base64.urlsafe_b64decode(token.split(".")[1] + "==")
    )["jti"])
    with pytest.raises(InvalidClient, match="replay"):
        await registry.authenticate(db, None, jwt_form(again), {}, "token")


async def test_hs256_with_the_public_key_as_secret_is_refused(
        db: AsyncSession, registry: ClientRegistry) -> None:
    from joserfc.jwk import OctKey

    key = ed_key()
    client = await agent(db, "private_key_jwt", jwks=keyset(key))
    public = json.dumps(key.as_dict(private=False)).encode()
    token = assertion(OctKey.import_key(public), client.client_id, alg="HS256")
    with pytest.raises(InvalidClient, match="must be signed with one of"):
        await registry.authenticate(db, None, jwt_form(token), {}, "token")


async def test_alg_none_is_refused(db: AsyncSession, registry: ClientRegistry) -> None:
    client = await agent(db, "private_key_jwt", jwks=keyset(ed_key()))
    now = int(time.time())
    token = unsigned({"alg": "none"}, {"iss": client.client_id, "sub": client.client_id,
                                       "aud": TOKEN_ENDPOINT, "exp": now + 60, "jti": "x"})
    with pytest.raises(InvalidClient, match="must be signed with one of"):
        await registry.authenticate(db, None, jwt_form(token), {}, "token")


async def test_a_secret_client_cannot_use_an_assertion(db: AsyncSession,
                                                       registry: ClientRegistry) -> None:
    key = ed_key()
    client = await agent(db, "client_secret_basic", secret="s3cret")
    token = assertion(key, client.client_id)
    with pytest.raises(InvalidClient, match="authenticates with client_secret_basic"):
        await registry.authenticate(db, None, jwt_form(token), {}, "token")


@pytest.mark.parametrize("form", [
    {"client_assertion_type": "urn:other", "client_assertion": "a.b.c"},
    {"client_assertion_type": JWT_BEARER, "client_assertion": "not-a-jwt"},
    {"client_assertion_type": JWT_BEARER},
    {"client_assertion_type": JWT_BEARER, "client_assertion": "x" * 10_000},
    {"client_assertion_type": JWT_BEARER,
     "client_assertion": unsigned({"alg": "EdDSA"}, {"iss": "x"})},
])
async def test_malformed_assertions(form: dict[str, str], db: AsyncSession,
                                    registry: ClientRegistry) -> None:
    with pytest.raises(InvalidClient):
        await registry.authenticate(db, None, form, {}, "token")


async def test_keys_from_jwks_uri_are_fetched_safely_and_cached(
        db: AsyncSession, registry: ClientRegistry, mock: respx.MockRouter) -> None:
    key = ed_key()
    route = mock.get(JWKS_PINNED).respond(200, json=keyset(key))
    client = await agent(db, "private_key_jwt", jwks_uri=JWKS_URI)

    for _ in range(2):
        token = assertion(key, client.client_id)
        assert (await registry.authenticate(db, None, jwt_form(token), {}, "token")).id \
            == client.id
    assert route.call_count == 1


async def test_a_rotated_key_is_found_by_refetching(
        db: AsyncSession, registry: ClientRegistry, mock: respx.MockRouter) -> None:
    old, new = ed_key("old"), ed_key("new")
    route = mock.get(JWKS_PINNED).respond(200, json=keyset(old))
    client = await agent(db, "private_key_jwt", jwks_uri=JWKS_URI)
    await registry.authenticate(db, None, jwt_form(assertion(old, client.client_id)), {}, "t")

    route.respond(200, json=keyset(new))
    token = assertion(new, client.client_id)
    assert (await registry.authenticate(db, None, jwt_form(token), {}, "token")).id == client.id
    assert route.call_count == 2


async def test_a_jwks_uri_that_fails_is_invalid_client(
        db: AsyncSession, registry: ClientRegistry, mock: respx.MockRouter) -> None:
    mock.get(JWKS_PINNED).respond(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
    client = await agent(db, "private_key_jwt", jwks_uri=JWKS_URI)
    with pytest.raises(InvalidClient, match="jwks_uri is not usable"):
        await registry.authenticate(db, None, jwt_form(assertion(ed_key(), client.client_id)),
                                    {}, "token")


# --- the registry's other duties ------------------------------------------------------


async def test_resolve_finds_registered_agents_and_nothing_else(
        db: AsyncSession, registry: ClientRegistry) -> None:
    client = await agent(db, "none")
    assert await registry.resolve(db, client.client_id) is client
    assert await registry.resolve(db, "unknown") is None
    assert await registry.resolve(db, "") is None
    assert await registry.resolve(db, "x" * 5000) is None


async def test_seeded_metadata_document_agents_are_not_refetched(
        db: AsyncSession, registry: ClientRegistry, mock: respx.MockRouter) -> None:
    route = mock.get(url__regex=".*").respond(500)
    seeded = Agent(client_id="https://seeded.example/client.json", name="Seeded",
                   registration="metadata_document")
    db.add(seeded)
    await db.flush()
    assert await registry.resolve(db, seeded.client_id) is seeded
    assert not route.called


async def test_redirect_uri_allowed(db: AsyncSession, registry: ClientRegistry) -> None:
    client = await agent(db, "none")
    client.redirect_uris = ["http://127.0.0.1/cb", "https://a.example/cb"]
    assert registry.redirect_uri_allowed(client, "http://127.0.0.1:5555/cb")
    assert registry.redirect_uri_allowed(client, "https://a.example/cb")
    assert not registry.redirect_uri_allowed(client, "https://a.example/cb2")
    assert not registry.redirect_uri_allowed(client, "http://localhost:5555/cb")


async def test_a_metadata_document_client_authenticates_with_its_published_keys(
        db: AsyncSession, registry: ClientRegistry, mock: respx.MockRouter) -> None:
    client_id = "https://agent.example/oauth/client.json"
    key = ed_key()
    mock.get("https://93.184.216.34/oauth/client.json").respond(200, json={
        "client_id": client_id, "client_name": "Keyed agent",
        "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": JWKS_URI})
    mock.get(JWKS_PINNED).respond(200, json=keyset(key))

    found = await registry.authenticate(db, None, jwt_form(assertion(key, client_id)), {},
                                        "token")

    assert found.client_id == client_id
    assert found.registration == "metadata_document"
    assert found.kind == "service"
