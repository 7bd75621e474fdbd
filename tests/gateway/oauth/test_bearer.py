"""Bearer access tokens on the gateway: who they speak for, and every way one is refused."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from gateway.identity.grants import revoke_grant
from gateway.oauth.tokens import AccessTokens
from seeds.agents import TRIP_PLANNER, TRIP_PLANNER_GRANT
from seeds.people import PEOPLE
from tests.support.agents import access_claims, bearer, make_agent, make_grant, mint_access_token

ISSUER = "http://127.0.0.1:8000"


def _app(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


async def _refused(client: httpx.AsyncClient, token: str) -> httpx.Response:
    response = await client.get("/api/chat/channels", headers=bearer(token))
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{ISSUER}/.well-known/oauth-protected-resource/api"' in challenge
    assert response.json()["type"] == "/problems/invalid-token"
    return response


async def test_an_agent_reads_with_its_token_within_its_channels(
        client: httpx.AsyncClient) -> None:
    token = await mint_access_token(_app(client), TRIP_PLANNER_GRANT)

    response = await client.get("/api/chat/channels", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert {c["name"] for c in response.json()["items"]} == {"design"}


async def test_the_token_names_the_person_and_the_agent_apart(client: httpx.AsyncClient) -> None:
    claims = (await access_claims(_app(client), TRIP_PLANNER_GRANT)).jwt_claims(ISSUER)

    assert claims["sub"] == str(PEOPLE["alice"].id)
    assert claims["client_id"] == TRIP_PLANNER.client_id
    assert claims["act"] == {"sub": f"agent:{TRIP_PLANNER.id}",
                             "client_id": TRIP_PLANNER.client_id}
    assert claims["aud"] == f"{ISSUER}/api"
    assert claims["grant_id"] == str(TRIP_PLANNER_GRANT)
    assert claims["exp"] - claims["iat"] == 300


async def test_a_sub_agent_token_nests_the_act_chain(client: httpx.AsyncClient) -> None:
    from seeds.agents import CALENDAR_HELPER, CALENDAR_HELPER_GRANT

    claims = (await access_claims(_app(client), CALENDAR_HELPER_GRANT)).jwt_claims(ISSUER)

    assert claims["act"]["sub"] == f"agent:{CALENDAR_HELPER.id}"
    assert claims["act"]["act"]["sub"] == f"agent:{TRIP_PLANNER.id}"
    assert claims["client_id"] == CALENDAR_HELPER.client_id


async def test_no_credential_is_a_challenge_naming_the_resource_metadata(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/api/chat/channels")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{ISSUER}", '
        f'resource_metadata="{ISSUER}/.well-known/oauth-protected-resource/api"')


async def test_an_expired_token_is_refused(client: httpx.AsyncClient) -> None:
    token = await mint_access_token(_app(client), TRIP_PLANNER_GRANT,
                                    issued_at=int(time.time()) - 400, lifetime=300)
    assert "expired" in (await _refused(client, token)).json()["detail"]


async def test_a_token_for_another_resource_is_refused(client: httpx.AsyncClient) -> None:
    token = await mint_access_token(_app(client), TRIP_PLANNER_GRANT,
                                    audience="https://elsewhere.example/api")
    await _refused(client, token)


async def test_a_token_from_another_issuer_is_refused(client: httpx.AsyncClient) -> None:
    app = _app(client)
    claims = await access_claims(app, TRIP_PLANNER_GRANT)
    tokens: AccessTokens = app.state.access_tokens
    impostor = AccessTokens(tokens.keys, tokens.revocations, issuer="https://evil.example")
    await _refused(client, impostor.mint(claims))


async def test_alg_none_is_refused(client: httpx.AsyncClient) -> None:
    claims = (await access_claims(_app(client), TRIP_PLANNER_GRANT)).jwt_claims(ISSUER)
    token = _unsigned({"alg": "none", "typ": "at+jwt"}, claims) + "."
    await _refused(client, token)


async def test_hs256_signed_with_the_public_key_is_refused(client: httpx.AsyncClient) -> None:
    import hashlib
    import hmac

    app = _app(client)
    public = app.state.access_keys.jwks()["keys"][0]
    claims = (await access_claims(app, TRIP_PLANNER_GRANT)).jwt_claims(ISSUER)
    for secret in (json.dumps(public).encode(), public["x"].encode()):
        signing_input = _unsigned({"alg": "HS256", "typ": "at+jwt", "kid": public["kid"]}, claims)
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        await _refused(client, f"{signing_input}.{_b64(mac)}")


async def test_an_unknown_key_id_is_refused(client: httpx.AsyncClient) -> None:
    from joserfc import jwt
    from joserfc.jwk import OKPKey

    claims = (await access_claims(_app(client), TRIP_PLANNER_GRANT)).jwt_claims(ISSUER)
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": "access-unknown"})
    token = jwt.encode({"alg": "Ed25519", "typ": "at+jwt", "kid": "access-unknown"}, claims,
                       stranger, algorithms=["Ed25519"])
    assert "unknown key" in (await _refused(client, token)).json()["detail"]


async def test_a_token_signed_with_a_txn_key_is_refused(client: httpx.AsyncClient) -> None:
    app = _app(client)
    claims = (await access_claims(app, TRIP_PLANNER_GRANT)).jwt_claims(ISSUER)
    from joserfc import jwt

    key = app.state.keys.current
    token = jwt.encode({"alg": "Ed25519", "typ": "at+jwt", "kid": key.kid}, claims, key,
                       algorithms=["Ed25519"])
    await _refused(client, token)


async def test_a_token_without_the_at_jwt_type_is_refused(client: httpx.AsyncClient) -> None:
    from joserfc import jwt

    app = _app(client)
    claims = (await access_claims(app, TRIP_PLANNER_GRANT)).jwt_claims(ISSUER)
    key = app.state.access_keys.current
    token = jwt.encode({"alg": "Ed25519", "typ": "JWT", "kid": key.kid}, claims, key,
                       algorithms=["Ed25519"])
    await _refused(client, token)


async def test_revoking_the_grant_stops_its_tokens_within_a_second(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    token = await mint_access_token(app, TRIP_PLANNER_GRANT)
    assert (await client.get("/api/chat/channels", headers=bearer(token))).status_code == 200

    async with app.state.sessionmaker() as db, db.begin():
        await revoke_grant(db, PEOPLE["alice"].id, TRIP_PLANNER_GRANT)
    await anyio.sleep(app.state.revocations.interval + 0.05)

    assert "revoked" in (await _refused(client, token)).json()["detail"]


async def test_narrowing_the_grant_stops_tokens_minted_before(client: httpx.AsyncClient) -> None:
    from gateway.identity.grants import narrow_grant

    app = _app(client)
    token = await mint_access_token(app, TRIP_PLANNER_GRANT)
    async with app.state.sessionmaker() as db, db.begin():
        await narrow_grant(db, PEOPLE["alice"].id, TRIP_PLANNER_GRANT, scopes=["chat:read"],
                           constraints={"chat:channels": []})
    app.state.revocations.invalidate()

    await _refused(client, token)
    fresh = await mint_access_token(app, TRIP_PLANNER_GRANT)
    assert (await client.get("/api/chat/channels", headers=bearer(fresh))).status_code == 200


async def test_a_missing_scope_is_403_with_the_scope_challenge(client: httpx.AsyncClient) -> None:
    token = await mint_access_token(_app(client), TRIP_PLANNER_GRANT, scope="rides:read")

    response = await client.get("/api/chat/channels", headers=bearer(token))

    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="chat:read"' in challenge
    # Where to re-authorize (RFC 9728 section 5.1): the metadata of the token's resource.
    issuer = _app(client).state.settings.issuer
    assert f'resource_metadata="{issuer}/.well-known/oauth-protected-resource/api"' in challenge
    assert response.json()["missing_scopes"] == ["chat:read"]


async def test_a_client_credentials_token_reaches_no_persons_data(
        client: httpx.AsyncClient) -> None:
    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        agent = await make_agent(db, "Indexer", kind="service")
    tokens: AccessTokens = app.state.access_tokens
    token = tokens.mint(tokens.agent_claims(agent, audience=f"{ISSUER}/api",
                                            scope=frozenset({"chat:read"})))

    response = await client.get("/api/chat/channels", headers=bearer(token))

    assert response.status_code == 403
    assert response.json()["type"] == "/problems/no-person"


async def test_a_personal_api_token_is_the_person_without_act(client: httpx.AsyncClient) -> None:
    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        grant = await make_grant(db, PEOPLE["alice"].id, None, scope="chat:read")
    claims = (await access_claims(app, grant)).jwt_claims(ISSUER)
    assert "act" not in claims
    assert claims["client_id"] == "personal"

    token = await mint_access_token(app, grant)
    response = await client.get("/api/chat/channels", headers=bearer(token))
    assert response.status_code == 200
    assert {"general", "design"} <= {c["name"] for c in response.json()["items"]}


@pytest.mark.parametrize(("method", "path"), [
    ("POST", f"/agents/{TRIP_PLANNER_GRANT}/revoke"),
    ("POST", f"/agents/{TRIP_PLANNER_GRANT}/narrow"),
    ("GET", "/agents"),
])
async def test_an_agent_token_never_reaches_people_only_functions(
        client: httpx.AsyncClient, method: str, path: str) -> None:
    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        grant = await make_grant(db, PEOPLE["alice"].id, await make_agent(db),
                                 scope=" ".join(sorted(app.state.services.person_scopes())))
    token = await mint_access_token(app, grant)

    response = await client.request(method, path, headers=bearer(token),
                                    data={"scope": ["chat:read"]})

    assert response.status_code == 403
    assert "people-only" in response.text


async def test_a_token_for_a_deleted_grant_is_refused(client: httpx.AsyncClient) -> None:
    app = _app(client)
    claims = await access_claims(app, TRIP_PLANNER_GRANT)
    tokens: AccessTokens = app.state.access_tokens
    token = tokens.mint(dataclasses.replace(claims, grant_id=str(uuid.uuid4())))
    await _refused(client, token)


async def test_a_token_of_a_widened_grant_is_not_held_to_the_cached_older_version(
        client: httpx.AsyncClient) -> None:
    """Another replica took the second consent: this one still caches the first version."""
    from gateway.identity.grants import record_consent
    from seeds.chat import channel_id

    app = _app(client)
    resource = f"{app.state.settings.issuer}/api"
    async with app.state.write_sessionmaker() as db, db.begin():
        agent = await make_agent(db, "Widened")
        agent.scope = "chat:read chat:write"
        grant = await record_consent(db, PEOPLE["alice"].id, agent.id, scopes=["chat:read"],
                                     constraints={}, resource=resource, details=[])
    first = bearer(await mint_access_token(app, grant))
    assert (await client.get("/api/chat/channels", headers=first)).status_code == 200  # cached

    async with app.state.write_sessionmaker() as db, db.begin():  # no cache cleared here
        widened = await record_consent(db, PEOPLE["alice"].id, agent.id,
                                       scopes=["chat:read", "chat:write"], constraints={},
                                       resource=resource, details=[])
    second = bearer(await mint_access_token(app, widened))
    posted = await client.post(f"/api/chat/channels/{channel_id('design')}/messages",
                               json={"text": "after the second consent"}, headers=second)

    assert posted.status_code == 201, posted.text
