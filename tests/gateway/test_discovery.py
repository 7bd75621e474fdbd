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


async def test_openapi_security_scheme_points_at_the_authorization_server(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    doc = (await client.get("/openapi.json")).json()
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    scheme = doc["components"]["securitySchemes"][SECURITY_SCHEME]

    code = scheme["flows"]["authorizationCode"]
    device = scheme["flows"]["x-deviceAuthorization"]
    assert code["authorizationUrl"] == metadata["authorization_endpoint"]
    assert code["tokenUrl"] == device["tokenUrl"] == metadata["token_endpoint"]
    assert device["deviceAuthorizationUrl"] == metadata["device_authorization_endpoint"]
    assert set(code["scopes"]) == set(metadata["scopes_supported"])
    assert "payments:spend" in code["scopes"]
    issuer = gateway_app.state.settings.issuer
    assert scheme["x-oauth2MetadataUrl"] == f"{issuer}/.well-known/oauth-authorization-server"
    assert doc["servers"] == [{"url": issuer}]
    assert doc["externalDocs"]["url"] == f"{issuer}/llms.txt"
    linked = await client.get("/openapi.json")
    assert linked.headers["link"] == f'<{issuer}/.well-known/api-catalog>; rel="api-catalog"'


async def test_openapi_says_which_operations_may_cost_money_or_need_approval(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    doc = (await client.get("/openapi.json")).json()

    paid = 0
    for service in gateway_app.state.services.services.values():
        for op in service.manifest.operations:
            published = doc["paths"][op.gateway_path][op.method.lower()]
            headers = [p["name"] for p in published.get("parameters", [])
                       if p["in"] == "header"]
            if op.payment.get("may_require_payment"):
                paid += 1
                assert published["x-payment"]["may_need_approval"] is True
                assert published["x-payment"]["spend_scope"] == "payments:spend"
                assert "Idempotency-Key" in headers
                held = published["responses"]["202"]
                assert "Location" in held["headers"]
                assert held["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/ApprovalHeld")
                assert "payment-refused" in published["responses"]["402"]["description"]
            else:
                assert "202" not in published["responses"], op.operation_id
                assert "Idempotency-Key" not in headers
            assert published.get("x-payment", {}).get("refunds", False) == \
                op.payment.get("refunds", False)
    assert paid >= 1  # rides book_trip
