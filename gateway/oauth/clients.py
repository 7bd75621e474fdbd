"""The client registry: how the authorization server finds and trusts its clients.

One object, held on ``app.state.clients``, ties together the ways an agent
becomes an OAuth client and proves itself:

- :meth:`ClientRegistry.resolve` finds a registered agent (RFC 7591 dynamic
  registration or created by its owner) or, when the ``client_id`` is an https
  URL, its Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document),
  fetched safely, cached and upserted as an agent;
- :meth:`ClientRegistry.authenticate` checks the token endpoint's client
  authentication (RFC 6749 section 2.3, RFC 7523);
- :meth:`ClientRegistry.redirect_uri_allowed` matches a redirect URI exactly,
  loopback ports aside (RFC 8252 section 7.3).

Failures raise :class:`~gateway.oauth.client_errors.InvalidClient`, whose
``error``/``description`` the OAuth endpoints render as RFC 6749 section 5.2 JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import Settings
from gateway.identity.models import Agent
from gateway.oauth.client_auth import ClientAuthenticator, hash_client_secret
from gateway.oauth.client_metadata import (
    MAX_URI,
    is_metadata_document_url,
    resolve_metadata_document,
)
from gateway.oauth.redirect_uris import redirect_uri_matches
from gateway.oauth.safe_fetch import SafeFetcher

__all__ = ["ClientRegistry", "hash_client_secret"]


class ClientRegistry:
    """Every OAuth client the gateway knows, however it came to know it."""

    def __init__(self, settings: Settings | None = None, *, fetcher: SafeFetcher | None = None,
                 scopes: Callable[[], Collection[str]] | None = None) -> None:
        settings = settings or Settings()
        self.settings = settings
        # Loopback (and plain http to it) only where developers run agents locally.
        self.fetcher = fetcher or SafeFetcher.for_env(settings.env)
        # The scopes there are, for validating metadata documents (None: syntax only).
        self.scopes = scopes
        self.authenticator = ClientAuthenticator(issuer=settings.issuer, fetcher=self.fetcher)

    async def resolve(self, db: AsyncSession, client_id: str) -> Agent | None:
        """A registered agent, or the agent a Client ID Metadata Document describes.

        Returns None for an unknown id; raises InvalidClient (with a description)
        when a metadata document can't be fetched or isn't valid.
        """
        if not client_id or len(client_id) > MAX_URI:
            return None
        if is_metadata_document_url(client_id):
            known = set(self.scopes()) if self.scopes else None
            return await resolve_metadata_document(db, client_id, self.fetcher,
                                                   known_scopes=known)
        agent: Agent | None = await db.scalar(select(Agent).where(Agent.client_id == client_id))
        return agent

    async def authenticate(self, db: AsyncSession, client_id: str | None,
                           form: Mapping[str, str], headers: Mapping[str, str],
                           endpoint: str) -> Agent:
        """The agent calling ``endpoint`` (a URL or a name like "token"), authenticated."""
        return await self.authenticator.authenticate(db, self.resolve, client_id, form,
                                                     headers, endpoint)

    def redirect_uri_allowed(self, agent: Agent, redirect_uri: str) -> bool:
        """Exact match with a registered URI; loopback IP literals on any port."""
        return redirect_uri_matches(agent.redirect_uris or [], redirect_uri)
