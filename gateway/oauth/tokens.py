"""Access tokens: JWTs per RFC 9068, minted for a grant and verified on every call.

Header ``typ: at+jwt`` (section 2.1), signed with the gateway's ``access`` keys
(Ed25519; the fully-specified RFC 9864 name for EdDSA on Ed25519), ``kid`` naming
a key published at ``/oauth/jwks.json``. Claims (section 2.2):

- ``sub``: the person (their user id), or ``agent:<id>`` for an agent acting as
  itself (client credentials; no person's data).
- ``client_id``: the agent; ``act`` (RFC 8693 section 4.1): the agent acting, with
  ``act.act`` the agent that delegated to it, and so on: outermost = current actor.
  A person's own API token has neither.
- ``aud``: the RFC 8707 resource; ``scope``; ``jti``; ``iat``/``exp`` (minutes).
- ``grant_id``/``gv``: the grant and its version, so revoking or narrowing the
  grant stops the token (see revocations.py); ``constraints``: the grant's limits.
- ``fam``: the refresh family the token was issued in, so replaying its
  authorization code revokes it too (RFC 6749 section 4.1.2).

Verification (section 4) trusts nothing in the header but what it checks: only
our algorithm (so ``none``, HS256 key confusion and RS256 are refused before any
key is used), a published ``kid``, ``typ``, the exact ``iss``, the ``aud`` of the
resource being called, ``exp``/``iat`` with a little leeway, then revocation.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.identity.models import Agent, Grant
from gateway.oauth.keys import KeyStore
from gateway.oauth.revocations import RevocationCache
from services.common.txn_token import TXN_TOKEN_ALG, knows_kid

ACCESS_TOKEN_TYP = "at+jwt"
ACCESS_TOKEN_ALG = TXN_TOKEN_ALG
ACCESS_TOKEN_TTL = 300
LEEWAY = 30
# An unknown kid may be a key another replica just rotated in: reload at most this often.
KEY_RELOAD_SECONDS = 5.0
PERSONAL_CLIENT_ID = "personal"
AGENT_SUBJECT_PREFIX = "agent:"


class InvalidAccessToken(Exception):
    """The token is malformed, forged, expired, for another resource, or revoked."""


class UnknownKey(InvalidAccessToken):
    """The ``kid`` is not one of the published access-token keys."""


def agent_subject(agent_id: uuid.UUID) -> str:
    return f"{AGENT_SUBJECT_PREFIX}{agent_id}"


@dataclass(frozen=True)
class ActClaim:
    """One link of the RFC 8693 ``act`` chain: an agent, by id and client id."""

    sub: str
    client_id: str

    @classmethod
    def of(cls, agent: Agent) -> ActClaim:
        return cls(sub=agent_subject(agent.id), client_id=agent.client_id)

    @property
    def agent_id(self) -> uuid.UUID:
        return uuid.UUID(self.sub.removeprefix(AGENT_SUBJECT_PREFIX))


@dataclass(frozen=True)
class AccessClaims:
    """What an access token says, as values (not a raw claims dict)."""

    sub: str
    aud: str
    client_id: str
    scope: frozenset[str]
    jti: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    iat: int = field(default_factory=lambda: int(time.time()))
    exp: int = 0
    grant_id: str | None = None
    gv: int = 0
    # Outermost (the agent acting now) first.
    act: tuple[ActClaim, ...] = ()
    constraints: Mapping[str, list[str]] = field(default_factory=dict)
    fam: str | None = None

    @property
    def person_id(self) -> uuid.UUID | None:
        """The person the token is for; None for an agent acting as itself."""
        if self.sub.startswith(AGENT_SUBJECT_PREFIX):
            return None
        return uuid.UUID(self.sub)

    @property
    def agent_id(self) -> uuid.UUID | None:
        """The agent acting now (for client credentials: the subject itself)."""
        if self.act:
            return self.act[0].agent_id
        if self.sub.startswith(AGENT_SUBJECT_PREFIX):
            return uuid.UUID(self.sub.removeprefix(AGENT_SUBJECT_PREFIX))
        return None

    def jwt_claims(self, issuer: str) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer, "sub": self.sub, "aud": self.aud, "client_id": self.client_id,
            "iat": self.iat, "exp": self.exp, "jti": self.jti,
            "scope": " ".join(sorted(self.scope)),
        }
        if self.grant_id is not None:
            claims["grant_id"] = self.grant_id
            claims["gv"] = self.gv
        if self.act:
            claims["act"] = _nest(self.act)
        if self.constraints:
            claims["constraints"] = {k: list(v) for k, v in self.constraints.items()}
        if self.fam:
            claims["fam"] = self.fam
        return claims

    @classmethod
    def from_jwt_claims(cls, claims: Mapping[str, Any]) -> AccessClaims:
        try:
            sub, client_id = claims["sub"], claims["client_id"]
            aud = claims["aud"]
            if not all(isinstance(v, str) for v in (sub, client_id, aud)):
                raise TypeError("sub, client_id and aud must be strings")
            grant_id = claims.get("grant_id")
            constraints = claims.get("constraints") or {}
            if not isinstance(constraints, dict):
                raise TypeError("constraints must be an object")
            parsed = cls(
                sub=sub, aud=aud, client_id=client_id,
                scope=frozenset(str(claims.get("scope", "")).split()),
                jti=str(claims["jti"]), iat=int(claims["iat"]), exp=int(claims["exp"]),
                grant_id=str(grant_id) if grant_id is not None else None,
                gv=int(claims.get("gv", 0)), act=_unnest(claims.get("act")),
                constraints={str(k): [str(x) for x in v] for k, v in constraints.items()},
                fam=str(claims["fam"]) if claims.get("fam") else None)
            parsed.person_id  # noqa: B018 -- a malformed sub must fail here, not later
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidAccessToken("incomplete or malformed claims") from exc
        return parsed


def _nest(chain: tuple[ActClaim, ...]) -> dict[str, Any]:
    """RFC 8693 section 4.1: the current actor outermost, who delegated to it inside."""
    nested: dict[str, Any] | None = None
    for link in reversed(chain):
        node: dict[str, Any] = {"sub": link.sub, "client_id": link.client_id}
        if nested is not None:
            node["act"] = nested
        nested = node
    assert nested is not None
    return nested


def _unnest(act: Any) -> tuple[ActClaim, ...]:
    chain: list[ActClaim] = []
    while act is not None:
        if not isinstance(act, dict) or not isinstance(act.get("sub"), str):
            raise TypeError("act must be an object with a sub")
        chain.append(ActClaim(sub=act["sub"], client_id=str(act.get("client_id", ""))))
        act = act.get("act")
        if len(chain) > 16:
            raise ValueError("act chain too deep")
    return tuple(chain)


async def actor_chain(db: AsyncSession, grant: Grant) -> tuple[ActClaim, ...]:
    """The agents of ``grant`` and the grants above it, the grant's own agent first."""
    chain: list[ActClaim] = []
    current: Grant | None = grant
    while current is not None and current.agent_id is not None:
        agent = await db.get(Agent, current.agent_id)
        if agent is None:
            break
        chain.append(ActClaim.of(agent))
        current = await db.get(Grant, current.parent_id) if current.parent_id else None
    return tuple(chain)


class AccessTokens:
    """Mint and verify the gateway's access tokens."""

    def __init__(self, keys: KeyStore, revocations: RevocationCache, *, issuer: str,
                 ttl: int = ACCESS_TOKEN_TTL, leeway: int = LEEWAY,
                 sessions: async_sessionmaker[AsyncSession] | None = None) -> None:
        self.keys = keys
        self.revocations = revocations
        self.issuer = issuer
        self.ttl = ttl
        self.leeway = leeway
        self.sessions = sessions
        self._reloaded_at = float("-inf")

    async def claims_for_grant(self, db: AsyncSession, grant: Grant, *, audience: str,
                               scope: frozenset[str] | None = None,
                               family_id: str | None = None) -> AccessClaims:
        """Claims for a token under ``grant`` (by default with all of its scope)."""
        chain = await actor_chain(db, grant)
        now = int(time.time())
        return AccessClaims(
            sub=str(grant.user_id), aud=audience,
            client_id=chain[0].client_id if chain else PERSONAL_CLIENT_ID,
            scope=frozenset(grant.scope.split()) if scope is None else scope,
            iat=now, exp=now + self.ttl, grant_id=str(grant.id), gv=grant.version,
            act=chain, constraints=dict(grant.constraints or {}), fam=family_id)

    def agent_claims(self, agent: Agent, *, audience: str, scope: frozenset[str]) -> AccessClaims:
        """Claims for an agent acting as itself (client credentials): no person, no act."""
        now = int(time.time())
        return AccessClaims(sub=agent_subject(agent.id), aud=audience, client_id=agent.client_id,
                            scope=scope, iat=now, exp=now + self.ttl)

    def mint(self, claims: AccessClaims) -> str:
        key = self.keys.current
        if key is None:
            raise RuntimeError("access token keys are not loaded")
        header = {"alg": ACCESS_TOKEN_ALG, "typ": ACCESS_TOKEN_TYP, "kid": key.kid}
        return jwt.encode(header, claims.jwt_claims(self.issuer), key,
                          algorithms=[ACCESS_TOKEN_ALG])

    async def verify(self, token: str, *, audience: str) -> AccessClaims:
        """Return the claims of a valid token for ``audience``; raise InvalidAccessToken."""
        try:
            claims = self._verify_signed(token, audience=audience)
        except UnknownKey:
            if not await self._reload_keys():
                raise
            claims = self._verify_signed(token, audience=audience)
        await self.revocations.refresh()
        if claims.grant_id and self.revocations.grant_revoked(claims.grant_id, claims.gv):
            raise InvalidAccessToken("the grant was revoked or narrowed")
        if claims.fam and self.revocations.family_revoked(claims.fam):
            raise InvalidAccessToken("the token's authorization was revoked")
        if self.revocations.jti_revoked(claims.jti):
            raise InvalidAccessToken("the token was revoked")
        return claims

    async def _reload_keys(self) -> bool:
        """Reload the published keys from the database, rate-limited; False if not now."""
        now = time.monotonic()
        if self.sessions is None or now - self._reloaded_at < KEY_RELOAD_SECONDS:
            return False
        self._reloaded_at = now
        await self.keys.load(self.sessions)
        return True

    def _verify_signed(self, token: str, *, audience: str) -> AccessClaims:
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidAccessToken("malformed token") from exc
        # Checked before any key is touched: alg "none", HS256 keyed with our public
        # key bytes and RS256 never reach signature verification.
        if header.get("alg") != ACCESS_TOKEN_ALG:
            raise InvalidAccessToken("unexpected algorithm")
        if header.get("typ") != ACCESS_TOKEN_TYP:
            raise InvalidAccessToken("not an access token")
        kid = header.get("kid")
        keys = self.keys.key_set()
        if not knows_kid(keys, kid):
            raise UnknownKey("unknown key")
        try:
            decoded = jwt.decode(token, keys, algorithms=[ACCESS_TOKEN_ALG])
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise InvalidAccessToken("bad signature") from exc
        raw = decoded.claims
        if raw.get("iss") != self.issuer:
            raise InvalidAccessToken("wrong issuer")
        aud = raw.get("aud")
        if aud != audience and not (isinstance(aud, list) and aud == [audience]):
            raise InvalidAccessToken("the token is for another resource")
        claims = AccessClaims.from_jwt_claims({**raw, "aud": audience})
        now = int(time.time())
        if claims.exp + self.leeway < now:
            raise InvalidAccessToken("expired")
        if claims.iat - self.leeway > now:
            raise InvalidAccessToken("issued in the future")
        return claims
