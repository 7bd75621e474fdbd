"""Client metadata (RFC 7591 section 2), and Client ID Metadata Documents that carry it.

One validator serves both ways an agent introduces itself without prior set-up,
the two the MCP authorization spec allows:

- dynamic client registration (RFC 7591), where the agent POSTs its metadata;
- a Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document),
  where the ``client_id`` is an https URL and the metadata is the JSON document
  at that URL. The gateway fetches it with :mod:`gateway.oauth.safe_fetch`,
  checks that the document names itself (``client_id`` equal to the URL), keeps
  it for as long as its Cache-Control allows (bounded), and upserts it as an
  :class:`~gateway.identity.models.Agent` with ``registration="metadata_document"``.
  Such a document can't carry a shared secret, since anyone can read it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent
from gateway.oauth.client_errors import InvalidClient, InvalidClientMetadata
from gateway.oauth.redirect_uris import needs_native, validate_redirect_uris
from gateway.oauth.safe_fetch import FetchError, SafeFetcher
from services.common.db import utcnow

AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", DEVICE_CODE,
               TOKEN_EXCHANGE)
# Asymmetric only: a client's JWKS holds public keys (RFC 7523 section 3).
KEY_TYPES = ("RSA", "EC", "OKP")
MAX_NAME = 120
MAX_URI = 2048
MAX_SCOPES = 50
MAX_KEYS = 10
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")
# Cache bounds for metadata documents: often enough to follow changes, rarely
# enough that an agent's own server isn't hammered (draft section "Metadata Caching").
MIN_CACHE = dt.timedelta(minutes=5)
MAX_CACHE = dt.timedelta(hours=24)
DEFAULT_CACHE = dt.timedelta(hours=1)


@dataclass
class ClientMetadata:
    """Validated client metadata, in the shape the Agent row needs."""

    name: str
    kind: str
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    grant_types: list[str]
    scope: str
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    client_uri: str | None = None
    # The metadata as registered, normalised: what the registration response echoes.
    document: dict[str, Any] = field(default_factory=dict)

    def apply_to(self, agent: Agent) -> None:
        agent.name = self.name
        agent.kind = self.kind
        agent.token_endpoint_auth_method = self.token_endpoint_auth_method
        agent.redirect_uris = self.redirect_uris
        agent.grant_types = self.grant_types
        agent.scope = self.scope
        agent.jwks = self.jwks
        agent.jwks_uri = self.jwks_uri
        agent.client_metadata = self.document


def _string(doc: dict[str, Any], name: str, max_length: int) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidClientMetadata(f"{name} must be a non-empty string of at most "
                                    f"{max_length} characters.")
    return value


def _https_url(doc: dict[str, Any], name: str) -> str | None:
    value = _string(doc, name, MAX_URI)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc or parts.fragment:
        raise InvalidClientMetadata(f"{name} must be an https URL without a fragment.")
    return value


def _string_list(doc: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = doc.get(name)
    if value is None:
        return list(default)
    if (not isinstance(value, list) or not value or len(value) > 10
            or not all(isinstance(v, str) for v in value)):
        raise InvalidClientMetadata(f"{name} must be a short, non-empty array of strings.")
    return list(dict.fromkeys(value))


def _scope(doc: dict[str, Any], known: Collection[str] | None) -> str:
    value = doc.get("scope")
    if value is None:
        # No ceiling asked for: the most it may ask is every scope there is; the
        # person still consents to each one.
        return " ".join(sorted(known)) if known else ""
    if not isinstance(value, str) or len(value) > 2000:
        raise InvalidClientMetadata("scope must be a space-separated string.")
    tokens = list(dict.fromkeys(value.split()))
    if len(tokens) > MAX_SCOPES or not all(_SCOPE_TOKEN.match(t) for t in tokens):
        raise InvalidClientMetadata("scope must be space-separated scope tokens "
                                    "(RFC 6749 section 3.3).")
    # Scopes this server doesn't have are left out rather than refused (RFC 7591
    # section 3.2.1 lets the server replace values): a metadata document is written
    # for many servers, and the registration response says what was kept.
    return " ".join(t for t in tokens if known is None or t in known)


def validate_jwks(value: object) -> dict[str, Any]:
    """A client's public JWK Set: asymmetric keys only, and never a private part."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise InvalidClientMetadata('jwks must be a JWK Set: {"keys": [...]}.')
    keys = value["keys"]
    if not keys or len(keys) > MAX_KEYS or not all(isinstance(k, dict) for k in keys):
        raise InvalidClientMetadata(f"jwks must hold 1 to {MAX_KEYS} keys.")
    for key in keys:
        if key.get("kty") not in KEY_TYPES:
            raise InvalidClientMetadata("jwks may hold only RSA, EC or OKP public keys.")
        if any(private in key for private in ("d", "p", "q", "dp", "dq", "qi", "k")):
            raise InvalidClientMetadata("jwks must hold public keys only, never a private key.")
    try:
        KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidClientMetadata(f"jwks holds a key that can't be read: {exc}") from exc
    return {"keys": keys}


def validate_metadata(doc: object, *, default_auth_method: str,
                      allow_secrets: bool = True,
                      known_scopes: Collection[str] | None = None) -> ClientMetadata:
    """Validate client metadata per RFC 7591 section 2; raise on the first problem found."""
    if not isinstance(doc, dict):
        raise InvalidClientMetadata("Client metadata must be a JSON object.")
    method = doc.get("token_endpoint_auth_method", default_auth_method)
    if method not in AUTH_METHODS:
        raise InvalidClientMetadata(
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}.")
    if method in SECRET_METHODS and not allow_secrets:
        raise InvalidClientMetadata(f"{method} needs a shared secret, which this client "
                                    "can't have; use none or private_key_jwt.")
    grant_types = _string_list(doc, "grant_types", ["authorization_code"])
    unsupported = [g for g in grant_types if g not in GRANT_TYPES]
    if unsupported:
        raise InvalidClientMetadata(f"Unsupported grant_types: {', '.join(unsupported)}.")
    if "client_credentials" in grant_types and method == "none":
        raise InvalidClientMetadata("client_credentials needs a confidential client.")
    response_types = _string_list(
        doc, "response_types", ["code"] if "authorization_code" in grant_types else [])
    if any(r != "code" for r in response_types):
        raise InvalidClientMetadata("response_types may only be code.")
    # RFC 7591 section 2.1: grant_types and response_types must agree.
    if ("code" in response_types) != ("authorization_code" in grant_types):
        raise InvalidClientMetadata("response_types code goes with grant_types "
                                    "authorization_code, and only with it.")

    application_type = doc.get("application_type")
    if application_type not in (None, "native", "web"):
        raise InvalidClientMetadata("application_type must be native or web.")
    raw_uris = doc.get("redirect_uris", [])
    native = application_type == "native" or (
        application_type is None and isinstance(raw_uris, list)
        and needs_native(u for u in raw_uris if isinstance(u, str)))
    redirect_uris = validate_redirect_uris(raw_uris, native=native)
    if "authorization_code" in grant_types and not redirect_uris:
        raise InvalidClientMetadata("redirect_uris are needed for authorization_code.")
    kind = "service" if grant_types == ["client_credentials"] else (
        "native" if native else "web")

    jwks = validate_jwks(doc["jwks"]) if doc.get("jwks") is not None else None
    jwks_uri = _https_url(doc, "jwks_uri")
    if jwks is not None and jwks_uri is not None:
        raise InvalidClientMetadata("jwks and jwks_uri are mutually exclusive "
                                    "(RFC 7591 section 2).")
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise InvalidClientMetadata("private_key_jwt needs jwks or jwks_uri.")

    client_uri = _https_url(doc, "client_uri")
    name = _string(doc, "client_name", MAX_NAME)
    known_fields = {
        "redirect_uris": redirect_uris, "token_endpoint_auth_method": method,
        "grant_types": grant_types, "response_types": response_types,
        "client_name": name, "client_uri": client_uri, "logo_uri": _https_url(doc, "logo_uri"),
        "tos_uri": _https_url(doc, "tos_uri"), "policy_uri": _https_url(doc, "policy_uri"),
        "scope": _scope(doc, known_scopes), "jwks": jwks, "jwks_uri": jwks_uri,
        "software_id": _string(doc, "software_id", 200),
        "software_version": _string(doc, "software_version", 100),
        "application_type": application_type,
    }
    contacts = _string_list(doc, "contacts", [])
    if contacts:
        known_fields["contacts"] = contacts
    document = {k: v for k, v in known_fields.items() if v is not None}
    return ClientMetadata(
        name=name or (urlsplit(client_uri).hostname if client_uri else None) or "Unnamed agent",
        kind=kind, token_endpoint_auth_method=method, redirect_uris=redirect_uris,
        grant_types=grant_types, scope=document["scope"], jwks=jwks, jwks_uri=jwks_uri,
        client_uri=client_uri, document=document)


# --- Client ID Metadata Documents ------------------------------------------------------


def is_metadata_document_url(client_id: str) -> bool:
    """Whether ``client_id`` names a metadata document (rather than a registered id)."""
    return client_id.startswith(("https://", "http://"))


def check_client_id_url(client_id: str, *, allow_loopback_http: bool = False) -> str:
    """The draft's rules for a client_id URL; returns its host (raises InvalidClient)."""
    def refuse(why: str) -> InvalidClient:
        return InvalidClient(f"The client_id {client_id!r} is not a valid metadata "
                             f"document URL: {why}.")

    if len(client_id) > MAX_URI or re.search(r"[\x00-\x20\x7f]", client_id):
        raise refuse("too long, or it has spaces or control characters")
    try:
        parts = urlsplit(client_id)
        parts.port  # noqa: B018 - parsing the port is how a malformed one is found
    except ValueError as exc:
        raise refuse("it does not parse") from exc
    host = parts.hostname or ""
    loopback = host in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback
                                        and allow_loopback_http):
        raise refuse("it must be https")
    if not host or "@" in parts.netloc:
        raise refuse("it needs a host and no user information")
    if "#" in client_id:
        raise refuse("it must not have a fragment")
    if parts.path in ("", "/"):
        raise refuse("it must have a path")
    segments = parts.path.split("/")
    if any(s.lower() in (".", "..", "%2e", "%2e%2e", ".%2e", "%2e.") for s in segments):
        raise refuse("it must not have . or .. path segments")
    return host


def _publisher(client_id_host: str, client_uri: str | None) -> str:
    """Who publishes the agent: the client_uri's host if it belongs with the client_id's.

    A document can claim any client_uri; the consent page must not show a name the
    document's author doesn't control, so an unrelated host falls back to the
    client_id's own host (which the gateway fetched, so it is proven).
    """
    uri_host = (urlsplit(client_uri).hostname or "") if client_uri else ""
    if uri_host and (uri_host == client_id_host or client_id_host.endswith("." + uri_host)
                     or uri_host.endswith("." + client_id_host)):
        return uri_host
    return client_id_host


def cache_until(max_age: int | None, now: dt.datetime) -> dt.datetime:
    """When a fetched document expires: its max-age, kept between the bounds."""
    ttl = DEFAULT_CACHE if max_age is None else dt.timedelta(seconds=max_age)
    return now + min(max(ttl, MIN_CACHE), MAX_CACHE)


async def resolve_metadata_document(db: AsyncSession, client_id: str, fetcher: SafeFetcher,
                                    *, known_scopes: Collection[str] | None = None) -> Agent:
    """The agent whose metadata document is at ``client_id``: cached, or fetched and upserted."""
    host = check_client_id_url(client_id, allow_loopback_http=fetcher.allow_loopback)
    agent = await db.scalar(select(Agent).where(Agent.client_id == client_id))
    now = utcnow()
    if agent is not None and agent.registration != "metadata_document":
        raise InvalidClient("This client_id belongs to a registered client.")
    # A row without an expiry was not fetched by us (seeded, or pinned by an
    # operator), so it is used as it is; a fetched one is used until it expires.
    if agent is not None and (agent.metadata_expires_at is None
                              or agent.metadata_expires_at > now):
        return agent
    try:
        fetched = await fetcher.fetch_json(client_id)
    except FetchError as exc:
        raise InvalidClient(f"The client metadata document could not be fetched: {exc}") from exc
    doc = fetched.document
    if not isinstance(doc, dict):
        raise InvalidClient("The client metadata document is not a JSON object.")
    # The document must name itself, or one URL could pass for another client.
    if doc.get("client_id") != client_id:
        raise InvalidClient("The client metadata document's client_id does not match the "
                            "URL it was fetched from.")
    if "client_secret" in doc or "client_secret_expires_at" in doc:
        raise InvalidClient("A client metadata document is public and must not hold a "
                            "client_secret.")
    try:
        metadata = validate_metadata(doc, default_auth_method="none", allow_secrets=False,
                                     known_scopes=known_scopes)
    except InvalidClientMetadata as exc:
        raise InvalidClient(f"The client metadata document is not valid: "
                            f"{exc.description}") from exc
    metadata.document["client_id"] = client_id
    return await _upsert(db, agent, client_id, metadata,
                         publisher=_publisher(host, metadata.client_uri),
                         expires_at=cache_until(fetched.max_age, now))


async def _upsert(db: AsyncSession, agent: Agent | None, client_id: str,
                  metadata: ClientMetadata, *, publisher: str,
                  expires_at: dt.datetime) -> Agent:
    if agent is None:
        agent = Agent(client_id=client_id, registration="metadata_document")
        metadata.apply_to(agent)
        agent.publisher = publisher
        agent.metadata_expires_at = expires_at
        try:
            # A savepoint: a concurrent first fetch of the same client_id wins the
            # insert, and this one reads its row instead of failing the request.
            async with db.begin_nested():
                db.add(agent)
        except IntegrityError:
            existing = await db.scalar(select(Agent).where(Agent.client_id == client_id))
            if existing is None:
                raise
            agent = existing
        else:
            return agent
    metadata.apply_to(agent)
    agent.publisher = publisher
    agent.metadata_expires_at = expires_at
    await db.flush()
    return agent
