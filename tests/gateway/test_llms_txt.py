"""/llms.txt tells an agent how to authorize and use every operation, from the declarations."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from gateway.oauth.resources import RESOURCE_PATHS
from gateway.payments.refusals import REASONS
from gateway.policy.scopes import scope_descriptions

LLMS = "/llms.txt"
_LINK = re.compile(r"\]\((?P<url>[^)\s]+)\)")


def _issuer(app: FastAPI) -> str:
    issuer: str = app.state.settings.issuer
    return issuer


async def test_it_is_markdown_in_the_llms_txt_shape(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    response = await client.get(LLMS)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["link"] == \
        f'<{_issuer(gateway_app)}/.well-known/api-catalog>; rel="api-catalog"'
    lines = response.text.splitlines()
    assert lines[0] == "# agentgate"
    assert lines[2].startswith("> ")
    assert not any(line.startswith("# ") for line in lines[1:])  # one H1, then H2 sections
    assert "## Authorize" in lines


async def test_every_operation_appears_with_its_scopes_and_effects(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    text = (await client.get(LLMS)).text
    lines = text.splitlines()

    operations = [op for service in gateway_app.state.services.services.values()
                  for op in service.manifest.operations]
    assert len(operations) > 20
    for op in operations:
        line = next((x for x in lines if x.startswith(f"- `{op.method} {op.gateway_path}` (")),
                    None)
        assert line is not None, f"{op.method} {op.gateway_path} is missing"
        for scope in op.scopes:
            assert f"`{scope}`" in line
        for effect in op.effects.get("writes", []):
            assert effect in line
        if op.effects.get("writes"):
            assert "Prefer: dry-run" in line
        if op.payment.get("may_require_payment"):
            assert "`payments:spend`" in line
            assert "`Idempotency-Key`" in line
            assert "202" in line
            assert "402" in line
        else:
            assert "may cost money" not in line


async def test_it_names_every_scope_endpoint_and_refusal_reason(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    text = (await client.get(LLMS)).text
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()

    for scope, description in scope_descriptions(gateway_app.state.services).items():
        assert f"- `{scope}`: {description}" in text
    for endpoint in ("authorization_endpoint", "token_endpoint", "registration_endpoint",
                     "device_authorization_endpoint", "jwks_uri"):
        assert metadata[endpoint] in text, endpoint
    for grant in ("urn:ietf:params:oauth:grant-type:device_code",
                  "urn:ietf:params:oauth:grant-type:token-exchange"):
        assert grant in metadata["grant_types_supported"]
        assert grant in text
    assert "code_challenge_method=S256" in text
    assert '"type": "payment_mandate"' in text
    for reason in REASONS:
        assert f"`{reason}`" in text
    assert "application/problem+json" in text
    assert "Prefer: effects=live" in text


async def test_every_link_resolves(client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    issuer = _issuer(gateway_app)
    text = (await client.get(LLMS)).text

    links = {m["url"] for m in _LINK.finditer(text)}

    assert len(links) >= 6
    for url in links:
        assert url.startswith(issuer + "/"), url
        response = await client.get(url.removeprefix(issuer))
        assert response.status_code == 200, url


async def test_head_answers_headers_only(client: httpx.AsyncClient) -> None:
    response = await client.head(LLMS)

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"


async def test_a_second_protected_resource_is_listed_with_its_metadata(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    assert RESOURCE_PATHS["mcp"] == "/mcp"  # served (gateway/mcp): so promised
    issuer = _issuer(gateway_app)

    text = (await client.get(LLMS)).text

    assert f"- {issuer}/mcp: the MCP server" in text
    assert f"({issuer}/.well-known/oauth-protected-resource/mcp)" in text


async def test_it_is_read_only(client: httpx.AsyncClient) -> None:
    response = await client.post(LLMS, content=b"# mine")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_rate_limit_it_states_is_the_one_calls_get(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    policy = gateway_app.state.limiter.policies["agent"]
    text = (await client.get(LLMS)).text

    assert f"{policy.quota} calls per {policy.window} s here" in text
    assert f"`RateLimit-Policy` (`{policy.policy_field()}`)" in text


def test_without_limits_it_says_so() -> None:
    from gateway.llms import llms_txt
    from gateway.ratelimit import Policy

    text = llms_txt("https://gw.example", {}, {}, agent_limit=Policy("agent", 0, 60))

    assert "- Rate limits: none are configured on this gateway." in text
    assert "RateLimit-Policy" not in text


async def test_it_tells_an_agent_how_to_step_up_a_missing_scope(client: httpx.AsyncClient) -> None:
    text = (await client.get(LLMS)).text

    assert "`403 insufficient-scope`" in text
    assert "`resource_metadata`" in text
