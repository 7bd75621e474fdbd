"""Only a valid Txn-Token for the rides service, with the right scope, gets in."""

from __future__ import annotations

import pytest

from services.common.problems import PROBLEM_JSON
from tests.services.rides.conftest import ALICE, Rider
from tests.support.txn import ServiceCaller, Signer, context


async def test_a_call_without_a_txn_token_is_unauthorized(caller: ServiceCaller) -> None:
    response = await caller.http.get("/trips")

    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


@pytest.mark.parametrize("forge", ["other_signer", "other_audience", "garbage"])
async def test_a_bad_txn_token_is_refused(caller: ServiceCaller, signer: Signer,
                                          forge: str) -> None:
    ctx = context(ALICE, ["rides:read"])
    token = {
        "other_signer": Signer().mint(ctx, "rides"),
        "other_audience": signer.mint(ctx, "chat"),
        "garbage": "not.a.token",
    }[forge]

    response = await caller.http.get("/trips", headers={"Txn-Token": token})

    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-token"


@pytest.mark.parametrize(("method", "path", "needed"), [
    ("GET", "/places", "rides:read"),
    ("GET", "/trips", "rides:read"),
    ("POST", "/trips", "rides:book"),
    ("POST", "/trips/00000000-0000-4000-8000-000000000000/cancel", "rides:book"),
])
async def test_a_token_without_the_scope_is_forbidden(alice: Rider, method: str, path: str,
                                                      needed: str) -> None:
    others = [s for s in ("rides:read", "rides:book") if s != needed]

    response = await alice.request(method, path, scopes=others, json={})

    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "/problems/insufficient-scope"
    assert body["missing_scopes"] == [needed]
