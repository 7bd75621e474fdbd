"""The Txn-Token contract between the gateway and the services.

A transaction token (draft-ietf-oauth-transaction-tokens) is a short-lived JWT the
gateway mints for each call it forwards. It says who the call is for (``sub``), which
service it is for (``aud``), the request id (``txn``), the scopes the caller holds,
and our request context in ``tctx``: the actor chain, resource constraints, the
effects mode and any payment. The caller's own credential never reaches a service.

Signed with Ed25519 (RFC 8037 EdDSA, named ``Ed25519`` by RFC 9864), ``typ``
``txntoken+jwt``, and a ``kid`` that resolves in the gateway's JWKS.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, ValidationError

TXN_TOKEN_HEADER = "Txn-Token"
TXN_TOKEN_TYP = "txntoken+jwt"
TXN_TOKEN_ALG = "Ed25519"

EffectsMode = Literal["live", "peek", "dry-run"]


class Actor(BaseModel):
    """One link of the actor chain: an agent acting for the person (RFC 8693 ``act``)."""

    model_config = ConfigDict(frozen=True)

    sub: str
    name: str | None = None


class Payment(BaseModel):
    """A payment the gateway has authorized for this call."""

    model_config = ConfigDict(frozen=True)

    id: str
    amount: int
    currency: str
    reference: str


class TxnContext(BaseModel):
    """What a service learns about one call. Built by the gateway, verified by the service."""

    model_config = ConfigDict(frozen=True)

    txn: str
    sub: str
    username: str
    name: str
    scopes: frozenset[str] = frozenset()
    actors: tuple[Actor, ...] = ()
    constraints: dict[str, list[str]] = Field(default_factory=dict)
    effects: EffectsMode = "live"
    payment: Payment | None = None

    @property
    def is_person(self) -> bool:
        """True when the person calls themself, with no agent acting."""
        return not self.actors

    def claims(
        self, *, issuer: str, audience: str, ttl: int, now: int | None = None
    ) -> dict[str, Any]:
        """Return the JWT claims that carry this context."""
        iat = int(time.time()) if now is None else now
        tctx: dict[str, Any] = {
            "username": self.username,
            "name": self.name,
            "effects": self.effects,
        }
        if self.actors:
            tctx["actors"] = [a.model_dump(exclude_none=True) for a in self.actors]
        if self.constraints:
            tctx["constraints"] = self.constraints
        if self.payment:
            tctx["payment"] = self.payment.model_dump()
        return {
            "iss": issuer,
            "aud": audience,
            "iat": iat,
            "exp": iat + ttl,
            "txn": self.txn,
            "sub": self.sub,
            "scope": " ".join(sorted(self.scopes)),
            "tctx": tctx,
        }

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> TxnContext:
        tctx = claims.get("tctx") or {}
        return cls(
            txn=claims["txn"],
            sub=claims["sub"],
            username=tctx.get("username", ""),
            name=tctx.get("name", ""),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            actors=tuple(tctx.get("actors", ())),
            constraints=tctx.get("constraints", {}),
            effects=tctx.get("effects", "live"),
            payment=tctx.get("payment"),
        )


class InvalidTxnToken(Exception):
    """The Txn-Token is missing, malformed, expired, for someone else, or badly signed."""


class KeySource(Protocol):
    """Where a verifier finds the gateway's public keys."""

    async def key_set(self, *, refresh: bool = False) -> KeySet: ...


def knows_kid(keys: KeySet, kid: object) -> bool:
    """Whether ``kid`` names a key in ``keys`` (anything but a known string id: False)."""
    if not isinstance(kid, str):
        return False
    try:
        keys.get_by_kid(kid)
    except (JoseError, ValueError, KeyError):
        return False
    return True


class StaticKeys:
    """Keys handed over in-process (the single-process deployment)."""

    def __init__(self, jwks: dict[str, Any] | None = None) -> None:
        self._keys = KeySet([])
        if jwks and jwks.get("keys"):
            self.update(jwks)

    def update(self, jwks: dict[str, Any]) -> None:
        """Replace the keys (the gateway calls this after loading or rotating its keys)."""
        self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        return self._keys


class RemoteJWKS:
    """The gateway's published JWKS, fetched over HTTP and cached.

    An unknown ``kid`` triggers one refetch (key rotation), rate-limited so a
    flood of forged kids cannot make us hammer the gateway.
    """

    def __init__(self, url: str, *, client: httpx.AsyncClient | None = None,
                 min_refresh_seconds: float = 5.0) -> None:
        self.url = url
        self._client = client or httpx.AsyncClient(timeout=5.0)
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._min_refresh = min_refresh_seconds

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        stale = time.monotonic() - self._fetched_at > self._min_refresh
        if self._keys is None or (refresh and stale):
            response = await self._client.get(self.url)
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
            self._fetched_at = time.monotonic()
        return self._keys


class TxnTokenVerifier:
    """Verify Txn-Tokens for one service (its audience)."""

    def __init__(self, *, issuer: str, audience: str, keys: KeySource, leeway: int = 5) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.leeway = leeway

    async def verify(self, token: str) -> TxnContext:
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidTxnToken("malformed token") from exc
        if header.get("typ") != TXN_TOKEN_TYP:
            raise InvalidTxnToken("not a transaction token")
        if header.get("alg") != TXN_TOKEN_ALG:
            raise InvalidTxnToken("unexpected algorithm")
        kid = header.get("kid")
        try:
            keys = await self.keys.key_set()
            if not knows_kid(keys, kid):
                keys = await self.keys.key_set(refresh=True)
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidTxnToken("the gateway's keys are unreachable") from exc
        try:
            decoded = jwt.decode(token, keys, algorithms=[TXN_TOKEN_ALG])
        except (JoseError, ValueError, KeyError) as exc:
            raise InvalidTxnToken("bad signature or unknown key") from exc
        claims = decoded.claims
        now = int(time.time())
        if claims.get("iss") != self.issuer:
            raise InvalidTxnToken("wrong issuer")
        if claims.get("aud") != self.audience:
            raise InvalidTxnToken("wrong audience")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or exp + self.leeway < now:
            raise InvalidTxnToken("expired")
        if not isinstance(iat, int) or iat - self.leeway > now:
            raise InvalidTxnToken("issued in the future")
        try:
            return TxnContext.from_claims(claims)
        except (KeyError, ValidationError, TypeError) as exc:
            raise InvalidTxnToken("incomplete claims") from exc
