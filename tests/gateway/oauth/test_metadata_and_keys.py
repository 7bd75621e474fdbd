"""Discovery documents (RFC 8414, RFC 9728), the access-token JWKS and key rotation."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from joserfc import jws

from seeds.agents import TRIP_PLANNER_GRANT
from tests.support.agents import bearer, mint_access_token
from tests.support.oauth import ISSUER


def _app(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def test_authorization_server_metadata(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    doc = response.json()
    assert doc["issuer"] == ISSUER
    for name, path in [("authorization_endpoint", "/oauth/authorize"),
                       ("token_endpoint", "/oauth/token"),
                       ("registration_endpoint", "/oauth/register"),
                       ("device_authorization_endpoint", "/oauth/device_authorization"),
                       ("revocation_endpoint", "/oauth/revoke"),
                       ("introspection_endpoint", "/oauth/introspect"),
                       ("jwks_uri", "/oauth/jwks.json")]:
        assert doc[name] == ISSUER + path
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
        doc["grant_types_supported"])
    assert {"none", "client_secret_basic", "private_key_jwt"} <= set(
        doc["token_endpoint_auth_methods_supported"])
    assert {"chat:read", "chat:write", "rides:read", "payments:spend"} <= set(
        doc["scopes_supported"])
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["client_id_metadata_document_supported"] is True


async def test_protected_resource_metadata(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-protected-resource/api")

    assert response.status_code == 200
    doc = response.json()
    assert doc["resource"] == f"{ISSUER}/api"
    assert doc["authorization_servers"] == [ISSUER]
    assert doc["bearer_methods_supported"] == ["header"]
    assert "chat:read" in doc["scopes_supported"]


async def test_an_unknown_resource_has_no_metadata(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-protected-resource/nothing")
    assert response.status_code == 404


async def test_the_access_jwks_is_apart_from_the_txn_token_keys(
        client: httpx.AsyncClient) -> None:
    access = (await client.get("/oauth/jwks.json")).json()["keys"]
    txn = (await client.get("/.well-known/jwks.json")).json()["keys"]

    assert [k["kid"] for k in access]
    assert all(k["kid"].startswith("access-") for k in access)
    assert not {k["kid"] for k in access} & {k["kid"] for k in txn}
    assert all("d" not in k for k in access)


async def test_a_token_signed_before_rotation_keeps_working_during_the_overlap(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    before = await mint_access_token(app, TRIP_PLANNER_GRANT)
    old_kid = jws.extract_compact(before.encode()).protected["kid"]

    new_kid = await app.state.access_keys.rotate(app.state.sessionmaker)
    after = await mint_access_token(app, TRIP_PLANNER_GRANT)

    assert new_kid != old_kid
    assert jws.extract_compact(after.encode()).protected["kid"] == new_kid
    published = {k["kid"] for k in (await client.get("/oauth/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= published
    for token in (before, after):
        response = await client.get("/api/chat/channels", headers=bearer(token))
        assert response.status_code == 200, response.text


async def test_a_key_another_replica_rotated_in_is_picked_up(client: httpx.AsyncClient) -> None:
    from gateway.oauth.keys import KeyStore
    from gateway.oauth.tokens import AccessTokens
    from tests.support.agents import access_claims

    app = _app(client)
    other_replica = KeyStore("access")
    await other_replica.rotate(app.state.sessionmaker)
    ours: AccessTokens = app.state.access_tokens
    theirs = AccessTokens(other_replica, ours.revocations, issuer=ours.issuer)

    token = theirs.mint(await access_claims(app, TRIP_PLANNER_GRANT))

    response = await client.get("/api/chat/channels", headers=bearer(token))
    assert response.status_code == 200, response.text
