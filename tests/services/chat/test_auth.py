"""Authentication and authorization: only the gateway's Txn-Token, with the right scopes."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

from services.common.txn_token import TXN_TOKEN_HEADER
from tests.services.chat.support import ALICE, Chat
from tests.support.txn import Signer, context

ALL = ["chat:read", "chat:write", "chat:mark_read"]


async def get_with(chat: Chat, headers: dict[str, str]) -> int:
    response = await chat.caller.http.get("/channels", headers=headers)
    assert response.headers["content-type"] == "application/problem+json"
    return response.status_code


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def alg_none_token() -> str:
    import json

    claims = context(ALICE, ALL).claims(issuer=Signer().issuer, audience="chat", ttl=60)
    header = {"alg": "none", "typ": "txntoken+jwt"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


async def test_no_txn_token_is_401(chat: Chat) -> None:
    assert await get_with(chat, {}) == 401


@pytest.mark.parametrize("make", [
    pytest.param(lambda s: s.mint(context(ALICE, ALL), "rides"), id="wrong audience"),
    pytest.param(lambda s: s.mint(context(ALICE, ALL), "chat", ttl=60,
                                  now=int(time.time()) - 3600), id="expired"),
    pytest.param(lambda s: Signer(key=OKPKey.generate_key(
        "Ed25519", parameters={"kid": s.key.kid})).mint(context(ALICE, ALL), "chat"),
        id="wrong signature"),
    pytest.param(lambda s: alg_none_token(), id="alg none"),
    pytest.param(lambda s: "not.a.token", id="garbage"),
    pytest.param(lambda s: jwt.encode({"alg": "Ed25519", "kid": s.key.kid},
                                      {"sub": ALICE.id}, s.key, algorithms=["Ed25519"]),
                 id="not a txn token"),
])
async def test_bad_txn_token_is_401(chat: Chat, signer: Signer, make) -> None:  # type: ignore[no-untyped-def]
    status = await get_with(chat, {TXN_TOKEN_HEADER: make(signer)})

    assert status == 401


async def test_subject_that_is_not_a_person_id_is_401(chat: Chat, signer: Signer) -> None:
    stranger = type(ALICE)(id="agent:xyz", username="x", name="X")
    token = signer.mint(context(stranger, ALL), "chat")

    assert await get_with(chat, {TXN_TOKEN_HEADER: token}) == 401


@pytest.mark.parametrize(("method", "path", "needs"), [
    ("GET", "/channels", "chat:read"),
    ("GET", "/search?q=x", "chat:read"),
    ("POST", "/channels", "chat:write"),
    ("POST", "/dms", "chat:write"),
])
async def test_missing_scope_is_403_naming_it(chat: Chat, method: str, path: str,
                                              needs: str) -> None:
    others = [s for s in ALL if s != needs]

    response = await chat.call(method, path, ALICE, scopes=others, json={"usernames": ["bob"]}
                               if path == "/dms" else {"name": "x"})

    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "/problems/insufficient-scope"
    assert body["missing_scopes"] == [needs]


async def test_unknown_path_is_404_problem(chat: Chat) -> None:
    response = await chat.get("/nope", ALICE)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
