"""Minting Txn-Tokens: the gateway's signed statement of one call, for one service."""

from __future__ import annotations

from joserfc import jwt

from gateway.oauth.keys import KeyStore
from services.common.txn_token import TXN_TOKEN_ALG, TXN_TOKEN_TYP, TxnContext


class TxnTokenMinter:
    """Sign a :class:`TxnContext` for one audience (a service), valid for ``ttl`` seconds."""

    def __init__(self, keys: KeyStore, *, issuer: str, ttl: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.ttl = ttl

    def mint(self, ctx: TxnContext, audience: str) -> str:
        key = self.keys.current
        if key is None:
            raise RuntimeError("signing keys are not loaded")
        header = {"alg": TXN_TOKEN_ALG, "typ": TXN_TOKEN_TYP, "kid": key.kid}
        claims = ctx.claims(issuer=self.issuer, audience=audience, ttl=self.ttl)
        return jwt.encode(header, claims, key, algorithms=[TXN_TOKEN_ALG])
