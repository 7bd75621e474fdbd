"""/.well-known/api-catalog lists every API with links that all resolve (RFC 9727)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.catalog import OPENAPI_JSON, PROFILE, api_catalog
from gateway.oauth.resources import RESOURCE_PATHS

CATALOG = "/.well-known/api-catalog"
RELATIONS = ("service-desc", "service-doc", "service-meta", "status")


def _issuer(app: FastAPI) -> str:
    issuer: str = app.state.settings.issuer
    return issuer


def _path(issuer: str, url: str) -> str:
    assert url.startswith(issuer + "/"), f"{url} is not under the issuer {issuer}"
    return url.removeprefix(issuer)


async def test_the_catalog_is_a_linkset_with_the_api_catalog_profile(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    issuer = _issuer(gateway_app)

    response = await client.get(CATALOG)

    assert response.status_code == 200
    assert response.headers["content-type"] == \
        f'application/linkset+json; profile="{PROFILE}"'
    assert response.headers["link"] == f'<{issuer}{CATALOG}>; rel="api-catalog"'
    anchors = {entry["anchor"]: entry for entry in response.json()["linkset"]}
    mcp = anchors.pop(f"{issuer}/mcp")
    assert set(anchors) == {f"{issuer}/api/{name}"
                            for name in gateway_app.state.services.services}
    for entry in anchors.values():
        for relation in RELATIONS:
            assert entry[relation], (entry["anchor"], relation)
            assert all(link["href"].startswith(issuer) for link in entry[relation])
        assert entry["service-meta"][0]["href"] == \
            f"{issuer}/.well-known/oauth-protected-resource/api"
    # The MCP endpoint: a resource of its own, described by its tools, not by OpenAPI.
    assert "service-desc" not in mcp
    assert mcp["service-meta"][0]["href"] == f"{issuer}/.well-known/oauth-protected-resource/mcp"


async def test_head_answers_the_link_header_without_a_body(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    full = await client.get(CATALOG)

    response = await client.head(CATALOG)

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["link"] == \
        f'<{_issuer(gateway_app)}{CATALOG}>; rel="api-catalog"'
    assert response.headers["content-type"] == full.headers["content-type"]
    assert int(response.headers["content-length"]) == len(full.content)


async def test_every_link_in_the_catalog_resolves(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    issuer = _issuer(gateway_app)
    linkset: list[dict[str, Any]] = (await client.get(CATALOG)).json()["linkset"]
    links = {link["href"]: link["type"] for entry in linkset for relation in RELATIONS
             for link in entry.get(relation, [])}

    for href, media_type in links.items():
        response = await client.get(_path(issuer, href))
        assert response.status_code == 200, href
        served = response.headers["content-type"].split(";")[0]
        # The OpenAPI document's registered type is served as plain JSON.
        declared = "application/json" if media_type == OPENAPI_JSON else media_type
        assert served == declared, (href, served)


async def test_a_second_protected_resource_gets_its_own_entry(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    """The MCP endpoint registers itself as resource "mcp": the catalog follows."""
    assert RESOURCE_PATHS["mcp"] == "/mcp"
    issuer = _issuer(gateway_app)

    linkset = (await client.get(CATALOG)).json()["linkset"]

    mcp = next(entry for entry in linkset if entry["anchor"] == f"{issuer}/mcp")
    assert "service-desc" not in mcp  # it describes its own tools, not in OpenAPI
    meta = await client.get(_path(issuer, mcp["service-meta"][0]["href"]))
    assert meta.status_code == 200
    assert meta.json()["resource"] == f"{issuer}/mcp"


def test_anchors_and_links_follow_the_issuer() -> None:
    doc = api_catalog("https://gateway.example", ["rides", "chat"])

    assert [e["anchor"] for e in doc["linkset"]] == ["https://gateway.example/api/chat",
                                                     "https://gateway.example/api/rides",
                                                     "https://gateway.example/mcp"]
    assert doc["linkset"][0]["service-desc"][0]["href"] == \
        "https://gateway.example/openapi.json"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_the_catalog_is_read_only(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, CATALOG)

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
