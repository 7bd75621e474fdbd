"""The gateway publishes its keys and one OpenAPI document for every service."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.common.auth import SECURITY_SCHEME


async def test_jwks_publishes_public_keys_only(client: httpx.AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert key["kid"]
        assert "d" not in key


async def test_a_rotated_key_stays_published_for_tokens_in_flight(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    before = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    new_kid = await gateway_app.state.keys.rotate(gateway_app.state.sessionmaker)
    after = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert after == before | {new_kid}
    assert gateway_app.state.keys.current.kid == new_kid


async def test_keys_survive_a_restart(gateway_app: FastAPI, database_url: str) -> None:
    from gateway.app import create_app
    from gateway.config import Settings

    first = gateway_app.state.keys.current.kid
    again = create_app(Settings(env="test", database_url=database_url))
    async with again.router.lifespan_context(again):
        assert again.state.keys.current.kid == first


async def test_openapi_lists_every_service_operation_under_its_prefix(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for name, service in gateway_app.state.services.services.items():
        for op in service.manifest.operations:
            published = doc["paths"][op.gateway_path][op.method.lower()]
            assert published["operationId"] == f"{name}_{op.operation_id}"
            assert published["security"][0][SECURITY_SCHEME] == sorted(op.scopes) or \
                set(published["security"][0][SECURITY_SCHEME]) == set(op.scopes)
            assert "x-effects" in published
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op]
    assert len(ids) == len(set(ids))
    scopes = doc["components"]["securitySchemes"][SECURITY_SCHEME]["flows"][
        "authorizationCode"]["scopes"]
    assert {"chat:read", "chat:write", "rides:read", "rides:book"} <= set(scopes)


async def test_openapi_publishes_the_constraints_services_enforce(
        client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()

    channels = doc["x-constraints"]["chat:channels"]

    assert channels["service"] == "chat"
    assert channels["description"] == "Only these channels"
    operation_ids = {op["operationId"] for item in doc["paths"].values()
                     for op in item.values() if isinstance(op, dict) and "operationId" in op}
    assert channels["choices"]["operation_id"] in operation_ids


async def test_schema_references_all_resolve(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_problem_types_dereference_to_a_page(client: httpx.AsyncClient) -> None:
    page = await client.get("/problems/insufficient-scope")
    assert page.status_code == 200
    assert "scope" in page.text
    missing = await client.get("/problems/no-such-problem")
    assert missing.status_code == 404
