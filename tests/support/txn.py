"""Mint Txn-Tokens in tests, as the gateway would, to call a service app directly."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OKPKey

from services.common.txn_token import (
    TXN_TOKEN_ALG,
    TXN_TOKEN_HEADER,
    TXN_TOKEN_TYP,
    Actor,
    EffectsMode,
    StaticKeys,
    TxnContext,
)

TEST_ISSUER = "https://gateway.test"


@dataclass
class Signer:
    """A throwaway gateway key: mints Txn-Tokens the service under test accepts."""

    key: OKPKey = field(default_factory=lambda: OKPKey.generate_key(
        "Ed25519", parameters={"kid": f"test-{uuid.uuid4().hex[:8]}"}))
    issuer: str = TEST_ISSUER

    @property
    def keys(self) -> StaticKeys:
        return StaticKeys({"keys": [self.key.as_dict(private=False)]})

    def mint(self, ctx: TxnContext, audience: str, *, ttl: int = 60, now: int | None = None,
             header: dict[str, Any] | None = None) -> str:
        head = {"alg": TXN_TOKEN_ALG, "typ": TXN_TOKEN_TYP, "kid": self.key.kid}
        head.update(header or {})
        return jwt.encode(head, ctx.claims(issuer=self.issuer, audience=audience, ttl=ttl, now=now),
                          self.key, algorithms=[TXN_TOKEN_ALG])


@dataclass(frozen=True)
class Person:
    id: str
    username: str
    name: str


def context(person: Person, scopes: Iterable[str], *, effects: EffectsMode = "live",
            actors: Iterable[Actor] = (), constraints: dict[str, list[str]] | None = None,
            payment: dict[str, Any] | None = None) -> TxnContext:
    return TxnContext(
        txn=uuid.uuid4().hex, sub=person.id, username=person.username, name=person.name,
        scopes=frozenset(scopes), actors=tuple(actors), constraints=constraints or {},
        effects=effects, payment=payment,  # type: ignore[arg-type]
    )


class ServiceCaller:
    """Calls one service app in-process, as a given person, with a fresh Txn-Token each time."""

    def __init__(self, app: FastAPI, audience: str, signer: Signer) -> None:
        self.app = app
        self.audience = audience
        self.signer = signer
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url=f"http://{audience}")

    async def request(self, method: str, path: str, person: Person, scopes: Iterable[str],
                      **kwargs: Any) -> httpx.Response:
        ctx_kwargs = {k: kwargs.pop(k) for k in ("effects", "actors", "constraints", "payment")
                      if k in kwargs}
        token = self.signer.mint(context(person, scopes, **ctx_kwargs), self.audience)
        headers = {TXN_TOKEN_HEADER: token, **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def aclose(self) -> None:
        await self.http.aclose()
