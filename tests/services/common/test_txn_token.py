"""A service accepts only a fresh Txn-Token the gateway signed for it."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import OctKey, OKPKey

from services.common.txn_token import (
    InvalidTxnToken,
    RemoteJWKS,
    StaticKeys,
    TxnTokenVerifier,
)
from tests.support.txn import TEST_ISSUER, Person, Signer, context

ALICE = Person("0b7e3a56-9d7c-4c59-8c0e-2b5a8f1c3d21", "alice", "Alice Martin")


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def verifier(signer: Signer) -> TxnTokenVerifier:
    return TxnTokenVerifier(issuer=TEST_ISSUER, audience="chat", keys=signer.keys)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_token_yields_the_callers_context(signer: Signer,
                                                      verifier: TxnTokenVerifier) -> None:
    token = signer.mint(context(ALICE, ["chat:read"], effects="peek"), "chat")
    ctx = await verifier.verify(token)
    assert ctx.sub == ALICE.id
    assert ctx.scopes == {"chat:read"}
    assert ctx.effects == "peek"
    assert ctx.is_person


@pytest.mark.parametrize(
    ("audience", "issuer", "reason"),
    [("rides", TEST_ISSUER, "wrong audience"), ("chat", "https://evil.test", "wrong issuer")],
)
async def test_token_for_another_audience_or_issuer_is_refused(
        audience: str, issuer: str, reason: str, signer: Signer,
        verifier: TxnTokenVerifier) -> None:
    signer.issuer = issuer
    token = signer.mint(context(ALICE, ["chat:read"]), audience)
    with pytest.raises(InvalidTxnToken, match=reason):
        await verifier.verify(token)


async def test_expired_token_is_refused(signer: Signer, verifier: TxnTokenVerifier) -> None:
    token = signer.mint(context(ALICE, []), "chat", ttl=60, now=int(time.time()) - 600)
    with pytest.raises(InvalidTxnToken, match="expired"):
        await verifier.verify(token)


async def test_token_from_the_future_is_refused(signer: Signer,
                                                verifier: TxnTokenVerifier) -> None:
    token = signer.mint(context(ALICE, []), "chat", now=int(time.time()) + 600)
    with pytest.raises(InvalidTxnToken, match="future"):
        await verifier.verify(token)


async def test_alg_none_is_refused(signer: Signer, verifier: TxnTokenVerifier) -> None:
    good = signer.mint(context(ALICE, ["chat:read"]), "chat")
    payload = good.split(".")[1]
    forged = f"{_b64({'alg': 'none', 'typ': 'txntoken+jwt', 'kid': signer.key.kid})}.{payload}."
    with pytest.raises(InvalidTxnToken):
        await verifier.verify(forged)


async def test_hmac_signed_with_the_public_key_is_refused(signer: Signer,
                                                          verifier: TxnTokenVerifier) -> None:
    # The classic algorithm-confusion attack: HS256 keyed with the published public key.
    public = json.dumps(signer.key.as_dict(private=False)).encode()
    claims = context(ALICE, ["chat:read"]).claims(issuer=TEST_ISSUER, audience="chat", ttl=60)
    forged = jwt.encode({"alg": "HS256", "typ": "txntoken+jwt", "kid": signer.key.kid},
                        claims, OctKey.import_key(public), algorithms=["HS256"])
    with pytest.raises(InvalidTxnToken, match="algorithm"):
        await verifier.verify(forged)


async def test_token_signed_by_an_unknown_key_is_refused(verifier: TxnTokenVerifier) -> None:
    stranger = Signer()
    token = stranger.mint(context(ALICE, ["chat:read"]), "chat")
    with pytest.raises(InvalidTxnToken):
        await verifier.verify(token)


async def test_known_kid_with_a_foreign_signature_is_refused(signer: Signer,
                                                             verifier: TxnTokenVerifier) -> None:
    impostor = Signer(key=OKPKey.generate_key("Ed25519", parameters={"kid": signer.key.kid}))
    token = impostor.mint(context(ALICE, ["chat:read"]), "chat")
    with pytest.raises(InvalidTxnToken, match="signature"):
        await verifier.verify(token)


async def test_tampered_claims_are_refused(signer: Signer, verifier: TxnTokenVerifier) -> None:
    header, _payload, signature = signer.mint(context(ALICE, ["chat:read"]), "chat").split(".")
    widened = context(ALICE, ["chat:read", "chat:write"]).claims(
        issuer=TEST_ISSUER, audience="chat", ttl=60)
    with pytest.raises(InvalidTxnToken):
        await verifier.verify(f"{header}.{_b64(widened)}.{signature}")


async def test_an_access_token_is_not_a_txn_token(signer: Signer,
                                                  verifier: TxnTokenVerifier) -> None:
    token = signer.mint(context(ALICE, ["chat:read"]), "chat", header={"typ": "at+jwt"})
    with pytest.raises(InvalidTxnToken, match="not a transaction token"):
        await verifier.verify(token)


@pytest.mark.parametrize("garbage", ["", "a.b", "not-a-jwt", "a.b.c.d", "ÿ.ÿ.ÿ"])
async def test_malformed_tokens_are_refused(garbage: str, verifier: TxnTokenVerifier) -> None:
    with pytest.raises(InvalidTxnToken):
        await verifier.verify(garbage)


@respx.mock
async def test_remote_jwks_is_fetched_again_when_a_new_key_appears() -> None:
    old, new = Signer(), Signer()
    route = respx.get("https://gateway.test/.well-known/jwks.json")
    route.side_effect = [
        httpx.Response(200, json={"keys": [old.key.as_dict(private=False)]}),
        httpx.Response(200, json={"keys": [old.key.as_dict(private=False),
                                           new.key.as_dict(private=False)]}),
    ]
    keys = RemoteJWKS("https://gateway.test/.well-known/jwks.json", min_refresh_seconds=0)
    verifier = TxnTokenVerifier(issuer=TEST_ISSUER, audience="chat", keys=keys)
    assert (await verifier.verify(old.mint(context(ALICE, []), "chat"))).sub == ALICE.id
    assert (await verifier.verify(new.mint(context(ALICE, []), "chat"))).sub == ALICE.id
    assert route.call_count == 2


@respx.mock
async def test_unreachable_jwks_refuses_rather_than_crashes() -> None:
    respx.get("https://gateway.test/.well-known/jwks.json").mock(
        side_effect=httpx.ConnectError("down"))
    keys = RemoteJWKS("https://gateway.test/.well-known/jwks.json")
    verifier = TxnTokenVerifier(issuer=TEST_ISSUER, audience="chat", keys=keys)
    with pytest.raises(InvalidTxnToken, match="unreachable"):
        await verifier.verify(Signer().mint(context(ALICE, []), "chat"))


def test_static_keys_start_empty_and_take_updates() -> None:
    keys = StaticKeys()
    signer = Signer()
    keys.update({"keys": [signer.key.as_dict(private=False)]})
    assert keys._keys.get_by_kid(signer.key.kid) is not None
