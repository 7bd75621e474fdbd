"""Client authentication at the token endpoint (RFC 6749 section 2.3, RFC 7523).

Four methods, and a client uses exactly the one it registered (RFC 7591
section 2, ``token_endpoint_auth_method``); presenting another, or two at
once (RFC 6749 section 2.3), is refused:

- ``none``: a public client (PKCE protects its codes); it just names itself.
- ``client_secret_basic``: HTTP Basic with the id and secret, each
  form-urlencoded first (RFC 6749 section 2.3.1).
- ``client_secret_post``: the same two in the form body.
- ``private_key_jwt``: a JWT signed with the client's private key
  (RFC 7523 sections 2.2 and 3; OpenID Connect Core section 9): ``iss`` and
  ``sub`` are the client_id, ``aud`` is this server, ``exp`` is required and
  near, and each ``jti`` is accepted once. Only asymmetric algorithms are
  accepted: an ``HS256`` assertion "signed" with a public key, or ``alg: none``,
  never verifies.

Secrets are random 256-bit values, so a single SHA-256 is a sound hash for them
(a slow password hash protects guessable secrets; these are not guessable).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from joserfc import jws, jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent
from gateway.oauth.client_errors import InvalidClient, InvalidClientMetadata
from gateway.oauth.client_metadata import validate_jwks
from gateway.oauth.client_models import UsedClientAssertion
from gateway.oauth.safe_fetch import FetchError, SafeFetcher
from services.common.db import utcnow

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Asymmetric only. "EdDSA" is RFC 8037's name for Ed25519, "Ed25519" RFC 9864's.
ASSERTION_ALGORITHMS = ["RS256", "ES256", "EdDSA", "Ed25519"]
# An assertion is for one request: it may live at most this long from now.
MAX_ASSERTION_LIFETIME = dt.timedelta(minutes=5)
LEEWAY = dt.timedelta(seconds=30)
MAX_ASSERTION_LENGTH = 8192
JWKS_CACHE_SECONDS = 300.0

AgentLookup = Callable[[AsyncSession, str], Awaitable[Agent | None]]


def new_client_secret() -> tuple[str, str]:
    """A fresh client secret and the hash to store; the secret is shown once."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_client_secret(secret)


def hash_client_secret(secret: str) -> str:
    """The stored form of a client secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_client_secret(stored: str | None, presented: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    expected = stored or "0" * 64
    return hmac.compare_digest(hash_client_secret(presented), expected) and stored is not None


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    """RFC 6749 section 2.3.1 / RFC 7617: Basic base64(urlencode(id) ":" urlencode(secret))."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("The Basic credentials are not valid base64 of UTF-8.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("The Basic credentials must be client_id:client_secret.")
    return unquote_plus(client_id), unquote_plus(secret)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


class ClientAuthenticator:
    """Checks that the caller at the token endpoint is the client it says it is."""

    def __init__(self, *, issuer: str, fetcher: SafeFetcher) -> None:
        self.issuer = issuer.rstrip("/")
        self.fetcher = fetcher
        self._jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def authenticate(self, db: AsyncSession, lookup: AgentLookup, client_id: str | None,
                           form: Mapping[str, str], headers: Mapping[str, str],
                           endpoint: str) -> Agent:
        """The authenticated agent; raise :class:`InvalidClient` for anything less."""
        method, claimed_id, credential = self._presented(client_id, form, headers)
        agent = await lookup(db, claimed_id)
        if agent is None:
            raise InvalidClient("Unknown client.")
        if agent.token_endpoint_auth_method != method:
            raise InvalidClient(f"This client authenticates with "
                                f"{agent.token_endpoint_auth_method}, not {method}.")
        if method == "none":
            if agent.client_secret_hash is not None:
                raise InvalidClient("This client has a secret and must authenticate with it.")
        elif method in ("client_secret_basic", "client_secret_post"):
            if not verify_client_secret(agent.client_secret_hash, credential):
                raise InvalidClient("The client secret is wrong.")
        else:
            await self._verify_assertion(db, agent, credential, endpoint)
        return agent

    def _presented(self, client_id: str | None, form: Mapping[str, str],
                   headers: Mapping[str, str]) -> tuple[str, str, str]:
        """(method, client_id, credential) of what the request carries; exactly one method."""
        presented: list[tuple[str, str, str]] = []
        basic = _basic_credentials(_header(headers, "authorization"))
        if basic is not None:
            presented.append(("client_secret_basic", *basic))
        if "client_secret" in form:
            presented.append(("client_secret_post", form.get("client_id", ""),
                              form["client_secret"]))
        if "client_assertion" in form or "client_assertion_type" in form:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise InvalidClient(f"client_assertion_type must be {JWT_BEARER}.")
            assertion = form.get("client_assertion", "")
            presented.append(("private_key_jwt", self._assertion_subject(assertion), assertion))
        if len(presented) > 1:
            raise InvalidClient("Use one client authentication method, not several "
                                "(RFC 6749 section 2.3).")
        named = {value for value in (client_id, form.get("client_id")) if value}
        if presented:
            method, claimed, credential = presented[0]
        else:
            method, claimed, credential = "none", next(iter(named), ""), ""
        if not claimed or any(value != claimed for value in named):
            raise InvalidClient("The client_id is missing, or differs between the "
                                "parameters and the credentials.")
        return method, claimed, credential

    def _assertion_subject(self, assertion: str) -> str:
        """The unverified ``sub`` of an assertion: which client's keys to verify it with."""
        if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
            raise InvalidClient("client_assertion is missing or too long.")
        try:
            decoded = json.loads(jws.extract_compact(assertion.encode()).payload)
        except (JoseError, ValueError, RecursionError) as exc:
            raise InvalidClient("client_assertion is not a JWT.") from exc
        subject = decoded.get("sub") if isinstance(decoded, dict) else None
        if not isinstance(subject, str) or not subject:
            raise InvalidClient("client_assertion has no sub.")
        return subject

    async def _verify_assertion(self, db: AsyncSession, agent: Agent, assertion: str,
                                endpoint: str) -> None:
        try:
            header = jws.extract_compact(assertion.encode()).protected
        except JoseError as exc:
            raise InvalidClient("client_assertion is not a JWT.") from exc
        # Checked before any key is touched: no "none", no HMAC keyed with public data.
        if header.get("alg") not in ASSERTION_ALGORITHMS:
            raise InvalidClient(f"client_assertion must be signed with one of "
                                f"{', '.join(ASSERTION_ALGORITHMS)}.")
        claims = await self._verified_claims(agent, assertion, header)
        self._check_claims(agent, claims, endpoint)
        await self._use_jti(db, agent.client_id, claims)

    async def _verified_claims(self, agent: Agent, assertion: str,
                               header: dict[str, Any]) -> dict[str, Any]:
        keys = await self._client_keys(agent)
        try:
            return self._decode(assertion, keys, header)
        except JoseError as exc:
            if agent.jwks_uri is None:
                raise InvalidClient("client_assertion does not verify with the client's "
                                    "keys.") from exc
        # The client may have rotated its keys: look once more at its jwks_uri.
        keys = await self._client_keys(agent, refresh=True)
        try:
            return self._decode(assertion, keys, header)
        except JoseError as exc:
            raise InvalidClient("client_assertion does not verify with the client's "
                                "keys.") from exc

    @staticmethod
    def _decode(assertion: str, keys: dict[str, Any], header: dict[str, Any]) -> dict[str, Any]:
        candidates = [key for key in keys["keys"]
                      if "kid" not in header or key.get("kid") == header["kid"]]
        last: JoseError = JoseError("no key matches the assertion's kid")
        for candidate in candidates:
            try:
                with warnings.catch_warnings():
                    # joserfc flags "EdDSA" as superseded by "Ed25519" (RFC 9864); both
                    # name the same algorithm, and clients still send the old name.
                    warnings.simplefilter("ignore", SecurityWarning)
                    token = jwt.decode(assertion, KeySet.import_key_set({"keys": [candidate]}),
                                       algorithms=ASSERTION_ALGORITHMS)
            except JoseError as exc:
                last = exc
                continue
            return dict(token.claims)
        raise last

    async def _client_keys(self, agent: Agent, *, refresh: bool = False) -> dict[str, Any]:
        if agent.jwks is not None:
            return agent.jwks
        if not agent.jwks_uri:
            raise InvalidClient("This client has no keys registered.")
        uri = agent.jwks_uri
        cached = self._jwks_cache.get(uri)
        if cached and not refresh and cached[0] > time.monotonic():
            return cached[1]
        try:
            fetched = await self.fetcher.fetch_json(uri)
            jwks = validate_jwks(fetched.document)
        except FetchError as exc:
            raise InvalidClient(f"The client's jwks_uri could not be fetched: {exc}") from exc
        except InvalidClientMetadata as exc:
            raise InvalidClient(f"The client's jwks_uri is not usable: "
                                f"{exc.description}") from exc
        self._jwks_cache[uri] = (time.monotonic() + JWKS_CACHE_SECONDS, jwks)
        return jwks

    def _check_claims(self, agent: Agent, claims: dict[str, Any], endpoint: str) -> None:
        if claims.get("iss") != agent.client_id or claims.get("sub") != agent.client_id:
            raise InvalidClient("client_assertion iss and sub must both be the client_id.")
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences
        if not isinstance(audiences, list) or not (set(audiences) & self._audiences(endpoint)):
            raise InvalidClient("client_assertion aud must be this server's issuer or its "
                                "token endpoint.")
        now = time.time()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        leeway = LEEWAY.total_seconds()
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise InvalidClient("client_assertion must have an exp.")
        if exp <= now - leeway:
            raise InvalidClient("client_assertion has expired.")
        if exp > now + MAX_ASSERTION_LIFETIME.total_seconds() + leeway:
            raise InvalidClient("client_assertion lives too long; keep exp within 5 minutes.")
        for name, value in (("iat", iat), ("nbf", nbf)):
            if value is not None and (not isinstance(value, int | float)
                                      or value > now + leeway):
                raise InvalidClient(f"client_assertion {name} is in the future.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= 256:
            raise InvalidClient("client_assertion must have a jti.")

    def _audiences(self, endpoint: str) -> set[str]:
        """Who an assertion may be addressed to: this issuer or one of its endpoints."""
        token_endpoint = f"{self.issuer}/oauth/token"
        named = endpoint if endpoint.startswith(("https://", "http://")) else (
            f"{self.issuer}/oauth/{endpoint}" if endpoint else token_endpoint)
        return {self.issuer, self.issuer + "/", token_endpoint, named}

    async def _use_jti(self, db: AsyncSession, client_id: str, claims: dict[str, Any]) -> None:
        """Record the jti; a second use of the same one is a replay (RFC 7523 section 3)."""
        now = utcnow()
        await db.execute(delete(UsedClientAssertion)
                         .where(UsedClientAssertion.expires_at < now))
        key = hashlib.sha256(f"{client_id}\0{claims['jti']}".encode()).hexdigest()
        expires_at = dt.datetime.fromtimestamp(float(claims["exp"]), dt.UTC) + LEEWAY
        try:
            async with db.begin_nested():
                db.add(UsedClientAssertion(key_hash=key, expires_at=expires_at))
        except IntegrityError as exc:
            raise InvalidClient("client_assertion was already used (jti replay).") from exc
