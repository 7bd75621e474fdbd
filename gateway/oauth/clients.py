"""Which agents (OAuth clients) exist, how they authenticate, where they may redirect.

The interface the grants use (``resolve``, ``authenticate``, ``redirect_uri_allowed``).
This first version knows registered agents only and the token endpoint methods
``none`` (public clients, PKCE), ``client_secret_basic`` and ``client_secret_post``
(RFC 6749 section 2.3.1); Client ID Metadata Documents and ``private_key_jwt``
(RFC 7523) come with the full registry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent
from gateway.oauth.errors import OAuthError


def hash_client_secret(secret: str) -> str:
    """Client secrets are random and long (not passwords): a SHA-256 is enough."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    # Section 2.3.1: both parts are form-urlencoded before base64.
    return unquote(client_id), unquote(secret)


def is_loopback_redirect(uri: str) -> bool:
    """RFC 8252 section 7.3: http on 127.0.0.1 or [::1] (any port) for native apps."""
    parts = urlsplit(uri)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


class ClientRegistry:
    """Find and authenticate agents for the authorization server's endpoints."""

    async def resolve(self, db: AsyncSession, client_id: str) -> Agent | None:
        """Return the agent with this ``client_id``, or None."""
        if not client_id or len(client_id) > 2048:
            return None
        return await db.scalar(select(Agent).where(Agent.client_id == client_id))

    async def authenticate(self, db: AsyncSession, client_id: str | None,
                           form: Mapping[str, str], headers: Mapping[str, str],
                           endpoint: str) -> Agent:
        """Authenticate the client calling ``endpoint`` by its registered method."""
        basic = _basic_credentials(headers)
        if basic is not None:
            if client_id and client_id != basic[0]:
                raise OAuthError("invalid_client", "Two different client ids were sent.")
            client_id = basic[0]
        client_id = client_id or form.get("client_id")
        if not client_id:
            raise OAuthError("invalid_client", "Say which client you are (client_id).")
        agent = await self.resolve(db, client_id)
        if agent is None:
            raise OAuthError("invalid_client", "No such client.")
        method = agent.token_endpoint_auth_method
        if method == "none":
            if basic is not None or form.get("client_secret"):
                raise OAuthError("invalid_client", "This client is public: send no secret.")
            return agent
        if method == "client_secret_basic":
            secret = basic[1] if basic else None
        elif method == "client_secret_post":
            secret = form.get("client_secret")
        else:
            raise OAuthError("invalid_client",
                             f"Authentication method {method} is not supported here yet.")
        if not secret or agent.client_secret_hash is None or not hmac.compare_digest(
                hash_client_secret(secret), agent.client_secret_hash):
            raise OAuthError("invalid_client", "Client authentication failed.")
        return agent

    def redirect_uri_allowed(self, agent: Agent, redirect_uri: str) -> bool:
        """Exact match; a loopback URI matches a registered loopback URI on any port."""
        if redirect_uri in agent.redirect_uris:
            return True
        if not is_loopback_redirect(redirect_uri):
            return False
        asked = urlsplit(redirect_uri)
        for registered in agent.redirect_uris:
            known = urlsplit(registered)
            if (is_loopback_redirect(registered) and known.hostname == asked.hostname
                    and known.path == asked.path and known.query == asked.query):
                return True
        return False
