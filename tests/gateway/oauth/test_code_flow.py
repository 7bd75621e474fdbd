"""Authorization code with PKCE, end to end: consent, code, token, an API call; and its attacks."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.identity.grants import revoke_grant
from gateway.identity.models import Agent, Grant
from seeds.chat import channel_id
from seeds.people import PEOPLE
from tests.support.agents import bearer, make_agent
from tests.support.oauth import (
    ISSUER,
    Authorization,
    approve,
    decide,
    redeem,
    redirect_params,
    refresh,
    ticked_scopes,
)
from tests.support.web import sign_in

REDIRECT = "https://helper.example/callback"


def _app(client: httpx.AsyncClient) -> FastAPI:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> Agent:
    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        made = await make_agent(db, "Helper", kind="native")
        made.redirect_uris = [REDIRECT, "http://127.0.0.1/callback"]
        made.scope = "chat:read chat:write rides:read"
    await sign_in(client, "alice")
    return made


def _basic_id(agent: Agent) -> str:
    """RFC 6749 section 2.3.1: the client id is form-urlencoded inside HTTP Basic."""
    return quote(agent.client_id, safe="")


async def _tokens(client: httpx.AsyncClient, auth: Authorization) -> dict[str, str]:
    response = await redeem(client, auth, await approve(client, auth))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()  # type: ignore[no-any-return]


async def _reads(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/api/chat/channels", headers=bearer(token))
    return response.status_code


async def _grants(client: httpx.AsyncClient, agent: Agent) -> list[Grant]:
    async with _app(client).state.sessionmaker() as db:
        return list(await db.scalars(select(Grant).where(Grant.agent_id == agent.id)))


async def test_code_flow_then_the_agent_reads_chat(client: httpx.AsyncClient,
                                                   agent: Agent) -> None:
    tokens = await _tokens(client, Authorization(agent.client_id, REDIRECT))

    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "chat:read"
    assert tokens["expires_in"] == 300
    assert "refresh_token" in tokens
    assert await _reads(client, tokens["access_token"]) == 200


async def test_consent_page_shows_the_agent_and_scopes_in_plain_words(
        client: httpx.AsyncClient, agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT, scope="chat:read rides:read")

    page = await client.get(f"/oauth/authorize?{auth.query()}")

    assert page.status_code == 200
    assert "Allow Helper to act for you?" in page.text
    assert "Example Labs" in page.text
    assert "<code>chat:read</code>" in page.text
    assert "<code>rides:read</code>" in page.text
    assert ticked_scopes(page.text) == ["chat:read", "rides:read"]
    assert 'data-constraint="chat:channels"' in page.text


async def test_the_person_grants_only_the_scopes_they_tick(client: httpx.AsyncClient,
                                                           agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT, scope="chat:read chat:write rides:read")

    tokens = (await redeem(client, auth, await approve(client, auth, extra={
        "scope": ["chat:read", "rides:read"]}))).json()

    # RFC 6749 section 5.1: the token response names the scope granted, narrower than asked.
    assert tokens["scope"] == "chat:read rides:read"
    assert [grant.scope for grant in await _grants(client, agent)] == ["chat:read rides:read"]
    assert await _reads(client, tokens["access_token"]) == 200
    widened = await refresh(client, agent.client_id, tokens["refresh_token"],
                            scope="chat:read chat:write")
    assert widened.json()["error"] == "invalid_scope"


async def test_a_ticked_scope_the_request_did_not_ask_for_is_not_granted(
        client: httpx.AsyncClient, agent: Agent) -> None:
    """A forged form can't widen: the scopes asked for, validated again, bound the grant."""
    auth = Authorization(agent.client_id, REDIRECT, scope="chat:read")

    tokens = (await redeem(client, auth, await approve(client, auth, extra={
        "scope": ["chat:read", "chat:write", "rides:read"]}))).json()

    assert tokens["scope"] == "chat:read"
    assert [grant.scope for grant in await _grants(client, agent)] == ["chat:read"]


@pytest.mark.parametrize("ticked", [
    [],                                              # every box unticked
    ["", "chat:read chat:write", "CHAT:READ", "rides:book"],  # nothing it asked for
])
async def test_approving_with_no_asked_scope_ticked_is_the_same_as_deny(
        client: httpx.AsyncClient, agent: Agent, ticked: list[str]) -> None:
    auth = Authorization(agent.client_id, REDIRECT, scope="chat:read rides:read")

    params = redirect_params(await decide(client, auth, "approve", extra={"scope": ticked}))

    assert params["error"] == "access_denied"
    assert params["state"] == "st-123"
    assert params["iss"] == ISSUER
    assert "code" not in params
    assert await _grants(client, agent) == []


@pytest.mark.parametrize("csrf_token", ["", "forged"])
async def test_a_decision_without_this_sessions_csrf_token_is_refused(
        client: httpx.AsyncClient, agent: Agent, csrf_token: str) -> None:
    auth = Authorization(agent.client_id, REDIRECT)

    response = await decide(client, auth, "approve", extra={"csrf_token": csrf_token})

    assert response.status_code == 403
    assert "location" not in response.headers
    assert await _grants(client, agent) == []


@pytest.mark.parametrize("request_field", [
    "",                                        # no authorization request at all
    "%%%&&==&",                                # not a query string
    "client_id=\x00",                          # a NUL in the form
    "response_type=code&client_id=https%3A%2F%2Fnobody.example%2Fclient.json",
])
async def test_a_malformed_authorization_request_in_the_form_is_a_problem(
        client: httpx.AsyncClient, agent: Agent, request_field: str) -> None:
    """Told to the person, never redirected to an agent, nothing granted, never a 500."""
    auth = Authorization(agent.client_id, REDIRECT)

    response = await decide(client, auth, "approve", extra={"request": request_field})

    assert 400 <= response.status_code < 500
    assert "location" not in response.headers
    assert await _grants(client, agent) == []


async def test_the_person_narrows_channels_on_consent(client: httpx.AsyncClient,
                                                      agent: Agent) -> None:
    design = str(channel_id("design"))
    auth = Authorization(agent.client_id, REDIRECT)
    code = await approve(client, auth, extra={
        "constraint": "chat:channels", "value:chat:channels": [design],
        "offered:chat:channels": [design, str(channel_id("general"))]})
    tokens = (await redeem(client, auth, code)).json()

    response = await client.get("/api/chat/channels", headers=bearer(tokens["access_token"]))
    assert {c["name"] for c in response.json()["items"]} == {"design"}
    async with _app(client).state.sessionmaker() as db:
        grant = await db.scalar(select(Grant).where(Grant.agent_id == agent.id))
    assert grant is not None
    assert grant.constraints == {"chat:channels": [design]}
    assert grant.resources == [f"{ISSUER}/api"]


async def test_signed_out_people_are_sent_to_sign_in_first(agent: Agent,
                                                           gateway_app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app),
                                 base_url="https://testserver") as anonymous:
        response = await anonymous.get(
            f"/oauth/authorize?{Authorization(agent.client_id, REDIRECT).query()}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/oauth/authorize%3F")


async def test_denying_sends_access_denied_with_state_and_issuer(
        client: httpx.AsyncClient, agent: Agent) -> None:
    params = redirect_params(await decide(client, Authorization(agent.client_id, REDIRECT),
                                          "deny"))
    assert params["error"] == "access_denied"
    assert params["state"] == "st-123"
    assert params["iss"] == ISSUER
    assert "code" not in params


@pytest.mark.parametrize(("method", "challenge"), [
    (None, ""),          # PKCE missing
    ("plain", "x" * 43),  # plain refused
    (None, "y" * 43),     # a challenge with no method means plain
])
async def test_pkce_missing_or_plain_is_refused(client: httpx.AsyncClient, agent: Agent,
                                                method: str | None, challenge: str) -> None:
    auth = Authorization(agent.client_id, REDIRECT, method=method)
    auth.challenge = challenge

    response = await client.get(f"/oauth/authorize?{auth.query()}")

    params = redirect_params(response)
    assert params["error"] == "invalid_request"
    assert params["iss"] == ISSUER
    assert params["state"] == "st-123"


async def test_a_wrong_code_verifier_is_refused(client: httpx.AsyncClient,
                                                agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT)
    code = await approve(client, auth)

    response = await redeem(client, auth, code, code_verifier="w" * 50)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["type"] == "/problems/oauth-error"
    assert body["status"] == 400


async def test_a_missing_code_verifier_is_refused(client: httpx.AsyncClient,
                                                  agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT)
    response = await redeem(client, auth, await approve(client, auth), code_verifier="")
    assert response.json()["error"] == "invalid_request"


async def test_an_unregistered_redirect_uri_is_never_redirected_to(
        client: httpx.AsyncClient, agent: Agent) -> None:
    auth = Authorization(agent.client_id, "https://evil.example/callback")

    response = await client.get(f"/oauth/authorize?{auth.query()}")

    assert response.status_code == 400
    assert "location" not in response.headers


async def test_a_loopback_redirect_on_any_port_is_allowed(client: httpx.AsyncClient,
                                                          agent: Agent) -> None:
    auth = Authorization(agent.client_id, "http://127.0.0.1:53682/callback")
    code = await approve(client, auth)
    assert (await redeem(client, auth, code)).status_code == 200


async def test_the_token_request_must_repeat_the_redirect_uri(client: httpx.AsyncClient,
                                                              agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT)
    response = await redeem(client, auth, await approve(client, auth),
                            redirect_uri="http://127.0.0.1/callback")
    assert response.json()["error"] == "invalid_grant"


async def test_an_unknown_resource_is_refused(client: httpx.AsyncClient, agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT, resource="https://elsewhere.example/api")
    params = redirect_params(await client.get(f"/oauth/authorize?{auth.query()}"))
    assert params["error"] == "invalid_target"


async def test_a_reused_code_is_refused_and_revokes_what_it_issued(
        client: httpx.AsyncClient, agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT)
    code = await approve(client, auth)
    first = (await redeem(client, auth, code)).json()
    assert await _reads(client, first["access_token"]) == 200

    second = await redeem(client, auth, code)

    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert await _reads(client, first["access_token"]) == 401
    assert (await refresh(client, agent.client_id, first["refresh_token"])).status_code == 400


async def test_refresh_rotates_and_the_new_token_works(client: httpx.AsyncClient,
                                                       agent: Agent) -> None:
    first = await _tokens(client, Authorization(agent.client_id, REDIRECT))

    rotated = await refresh(client, agent.client_id, first["refresh_token"])

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert await _reads(client, new["access_token"]) == 200


async def test_refresh_token_reuse_revokes_the_whole_family(client: httpx.AsyncClient,
                                                            agent: Agent) -> None:
    first = await _tokens(client, Authorization(agent.client_id, REDIRECT))
    new = (await refresh(client, agent.client_id, first["refresh_token"])).json()

    reuse = await refresh(client, agent.client_id, first["refresh_token"])

    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert (await refresh(client, agent.client_id, new["refresh_token"])).status_code == 400
    assert await _reads(client, new["access_token"]) == 401
    assert await _reads(client, first["access_token"]) == 401


async def test_refresh_can_not_widen_the_scope(client: httpx.AsyncClient, agent: Agent) -> None:
    first = await _tokens(client, Authorization(agent.client_id, REDIRECT))
    response = await refresh(client, agent.client_id, first["refresh_token"],
                             scope="chat:read chat:write")
    assert response.json()["error"] == "invalid_scope"


async def test_revoking_the_grant_stops_access_and_refresh(client: httpx.AsyncClient,
                                                           agent: Agent) -> None:
    app = _app(client)
    tokens = await _tokens(client, Authorization(agent.client_id, REDIRECT))
    async with app.state.sessionmaker() as db, db.begin():
        grant = await db.scalar(select(Grant).where(Grant.agent_id == agent.id))
        assert grant is not None
        await revoke_grant(db, PEOPLE["alice"].id, grant.id)
    app.state.revocations.invalidate()

    assert await _reads(client, tokens["access_token"]) == 401
    assert (await refresh(client, agent.client_id, tokens["refresh_token"])).status_code == 400


async def test_an_agent_token_can_not_approve_consent(client: httpx.AsyncClient,
                                                      agent: Agent) -> None:
    tokens = await _tokens(client, Authorization(agent.client_id, REDIRECT))
    client.cookies.clear()

    response = await client.post("/oauth/authorize", headers=bearer(tokens["access_token"]),
                                 data={"decision": "approve"})

    assert response.status_code == 403
    assert "people-only" in response.text


async def test_a_confidential_agent_gets_a_token_for_itself_that_reaches_no_person(
        client: httpx.AsyncClient) -> None:
    from gateway.oauth.clients import hash_client_secret

    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        service = await make_agent(db, "Indexer", kind="service")
        service.token_endpoint_auth_method = "client_secret_basic"
        service.client_secret_hash = hash_client_secret("s3cret-" + "x" * 30)
        service.scope = "chat:read"

    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(_basic_id(service), "s3cret-" + "x" * 30))

    assert response.status_code == 200, response.text
    token = response.json()
    assert "refresh_token" not in token
    api = await client.get("/api/chat/channels", headers=bearer(token["access_token"]))
    assert api.status_code == 403
    assert api.json()["type"] == "/problems/no-person"


async def test_a_wrong_client_secret_is_invalid_client(client: httpx.AsyncClient) -> None:
    from gateway.oauth.clients import hash_client_secret

    app = _app(client)
    async with app.state.sessionmaker() as db, db.begin():
        service = await make_agent(db, "Indexer", kind="service")
        service.token_endpoint_auth_method = "client_secret_basic"
        service.client_secret_hash = hash_client_secret("right")

    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(_basic_id(service), "wrong"))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_a_public_agent_can_not_use_client_credentials(client: httpx.AsyncClient,
                                                             agent: Agent) -> None:
    response = await client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": agent.client_id})
    assert response.json()["error"] == "unauthorized_client"


async def test_an_unknown_grant_type_is_unsupported(client: httpx.AsyncClient,
                                                    agent: Agent) -> None:
    response = await client.post("/oauth/token", data={
        "grant_type": "password", "client_id": agent.client_id})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_an_agent_token_can_not_open_the_consent_page(client: httpx.AsyncClient,
                                                            agent: Agent) -> None:
    tokens = await _tokens(client, Authorization(agent.client_id, REDIRECT))
    client.cookies.clear()

    response = await client.get(
        f"/oauth/authorize?{Authorization(agent.client_id, REDIRECT).query()}",
        headers=bearer(tokens["access_token"]))

    assert response.status_code == 403
    assert "people-only" in response.text


# -- consenting again: one connection per person, agent and resource -------------------


async def test_consenting_again_makes_the_one_connection_what_was_ticked(
        client: httpx.AsyncClient, agent: Agent) -> None:
    first = await _tokens(client, Authorization(agent.client_id, REDIRECT, scope="chat:read"))
    [grant] = await _grants(client, agent)
    wider = Authorization(agent.client_id, REDIRECT, scope="chat:read chat:write")

    page = await client.get(f"/oauth/authorize?{wider.query()}")
    second = (await redeem(client, wider, await approve(client, wider, extra={
        "scope": ["chat:read", "chat:write"]}))).json()

    # The page said so: it is connected, with what, and that allowing replaces it;
    # what it holds comes ticked, what is new waits for her tick.
    assert "Helper is already connected." in page.text
    assert "Allowing replaces that with what you tick below" in page.text
    assert ticked_scopes(page.text) == ["chat:read"]
    [again] = await _grants(client, agent)
    assert (again.id, again.scope, again.version) == (grant.id, "chat:read chat:write", 2)
    assert second["scope"] == "chat:read chat:write"
    assert await _reads(client, second["access_token"]) == 200
    # Tokens minted under the earlier consent stop: the agent uses the new ones.
    assert await _reads(client, first["access_token"]) == 401


async def test_consenting_again_to_less_narrows_the_connection(
        client: httpx.AsyncClient, agent: Agent) -> None:
    auth = Authorization(agent.client_id, REDIRECT, scope="chat:read chat:write")
    first = await _tokens(client, auth)

    again = Authorization(agent.client_id, REDIRECT, scope="chat:read chat:write")
    tokens = (await redeem(client, again, await approve(client, again, extra={
        "scope": ["chat:read"]}))).json()

    assert [grant.scope for grant in await _grants(client, agent)] == ["chat:read"]
    assert tokens["scope"] == "chat:read"
    assert await _reads(client, first["access_token"]) == 401
    posted = await client.post(f"/api/chat/channels/{channel_id('design')}/messages",
                               json={"text": "hi"}, headers=bearer(tokens["access_token"]))
    assert posted.status_code == 403
    # The earlier refresh token can't bring chat:write back.
    widened = await refresh(client, agent.client_id, first["refresh_token"],
                            scope="chat:read chat:write")
    assert widened.json()["error"] == "invalid_scope"


async def test_a_first_consent_shows_no_connection(client: httpx.AsyncClient,
                                                   agent: Agent) -> None:
    page = await client.get(
        f"/oauth/authorize?{Authorization(agent.client_id, REDIRECT).query()}")

    assert "already connected" not in page.text


async def test_a_connection_for_another_resource_is_another_connection(
        client: httpx.AsyncClient, agent: Agent) -> None:
    await _tokens(client, Authorization(agent.client_id, REDIRECT))
    mcp = Authorization(agent.client_id, REDIRECT, resource=f"{ISSUER}/mcp")

    page = await client.get(f"/oauth/authorize?{mcp.query()}")
    await _tokens(client, mcp)

    assert "already connected" not in page.text
    assert sorted(g.resources[0] for g in await _grants(client, agent)) == \
        [f"{ISSUER}/api", f"{ISSUER}/mcp"]


async def test_a_revoked_connection_is_not_reused(client: httpx.AsyncClient,
                                                  agent: Agent) -> None:
    await _tokens(client, Authorization(agent.client_id, REDIRECT))
    [old] = await _grants(client, agent)
    async with _app(client).state.sessionmaker() as db, db.begin():
        await revoke_grant(db, PEOPLE["alice"].id, old.id)

    await _tokens(client, Authorization(agent.client_id, REDIRECT))

    grants = await _grants(client, agent)
    assert len(grants) == 2
    assert [g.revoked_at is None for g in sorted(grants, key=lambda g: g.id == old.id)] == \
        [True, False]


async def test_a_second_consent_with_the_defaults_lifts_no_limit_and_adds_no_scope(
        client: httpx.AsyncClient, agent: Agent) -> None:
    design = str(channel_id("design"))
    first = Authorization(agent.client_id, REDIRECT, scope="chat:read")
    await redeem(client, first, await approve(client, first, extra={
        "limit:chat:channels": [], "value:chat:channels": [design]}))  # only #design
    again = Authorization(agent.client_id, REDIRECT, scope="chat:read chat:write rides:read")

    await redeem(client, again, await approve(client, again))  # Allow, nothing changed

    [grant] = await _grants(client, agent)
    assert grant.scope == "chat:read"  # chat:write and rides:read were never ticked
    assert grant.constraints == {"chat:channels": [design]}  # her channel limit stays


async def test_denying_a_second_consent_leaves_the_connection_as_it_was(
        client: httpx.AsyncClient, agent: Agent) -> None:
    tokens = await _tokens(client, Authorization(agent.client_id, REDIRECT))
    again = Authorization(agent.client_id, REDIRECT, scope="chat:read chat:write")

    denied = redirect_params(await decide(client, again, "deny"))

    assert denied["error"] == "access_denied"
    [grant] = await _grants(client, agent)
    assert (grant.scope, grant.version) == ("chat:read", 1)
    assert await _reads(client, tokens["access_token"]) == 200
