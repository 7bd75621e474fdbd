"""The Authlib adapter: one AuthorizationServer for the gateway, bridged to async.

Authlib's server core (RFC 6749 and its extensions) is framework-agnostic and
synchronous. The bridge: a route reads the request, builds an :class:`OAuthRequest`
carrying the request's own ``AsyncSession``, and runs Authlib in a worker thread
(``anyio.to_thread.run_sync``). When a grant needs the database it calls back into
the event loop with :func:`run_async` (``anyio.from_thread.run``). The request
coroutine is blocked awaiting the thread meanwhile, so the session is never used
by two tasks at once, and there is no second, synchronous engine.

What Authlib does not do is built on its extension points here and in grants/:
PKCE with S256 only (grants/authorization_code.py), RFC 8707 resource indicators,
RFC 9396 authorization details (authorization_details.py), RFC 9207 ``iss`` in
authorization responses (:meth:`handle_response`), and errors in our RFC 6749
section 5.2 + problem+json shape (:meth:`handle_error_response`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidScopeError, OAuth2Error, OAuth2Payload
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Agent
from gateway.oauth.clients import ClientRegistry
from gateway.oauth.errors import NO_STORE, OAuthError
from gateway.oauth.resources import served_resources
from gateway.oauth.revocations import RevocationCache
from gateway.oauth.tokens import AccessTokens

T = TypeVar("T")

# The request an Authlib call in this worker thread is for: Authlib's query_client
# gets only a client id, and needs the request's database session.
_current_request: ContextVar[OAuthRequest] = ContextVar("oauth_request")

# What an agent may use when it registered no grant_types (RFC 7591 section 2 default).
DEFAULT_GRANT_TYPES = {"native": ["authorization_code", "refresh_token"],
                       "web": ["authorization_code", "refresh_token"],
                       "service": ["client_credentials"]}


def run_async(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """From an Authlib hook (a worker thread), run ``fn(*args)`` on the event loop."""
    return anyio.from_thread.run(fn, *args)


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 section 2: the requested resource is not one this server issues for."""

    error = "invalid_target"


class InvalidAuthorizationDetailsError(OAuth2Error):  # type: ignore[misc]
    """RFC 9396 section 5: the authorization details are not understood or not allowed."""

    error = "invalid_authorization_details"


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """An Authlib request built from a Starlette one, carrying the request's session."""

    def __init__(self, method: str, uri: str, items: list[tuple[str, str]],
                 headers: Mapping[str, str], db: AsyncSession) -> None:
        super().__init__(method, uri, headers=dict(headers))
        self.payload = _Payload(items)
        self.db = db
        # Set by the consent step: the gw_grants row the code will belong to.
        self.grant_row_id: uuid.UUID | None = None
        self.resource: str | None = None
        # RFC 9396: the validated authorization details the person is asked to grant.
        self.authorization_details: list[dict[str, Any]] = []

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """An agent as Authlib sees a client (RFC 6749 section 2)."""

    def __init__(self, agent: Agent, registry: ClientRegistry) -> None:
        self.agent = agent
        self.registry = registry

    def get_client_id(self) -> str:
        return self.agent.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous default (RFC 6749 section 3.1.2.3).
        uris = self.agent.redirect_uris or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes the agent may ask for; all it may when it asked none."""
        allowed = self.agent.scope.split()
        if not scope:
            return " ".join(allowed) or None
        wanted = [s for s in dict.fromkeys(scope.split()) if not allowed or s in allowed]
        return " ".join(wanted) or None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return self.registry.redirect_uri_allowed(self.agent, redirect_uri)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.agent.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        allowed = self.agent.grant_types or DEFAULT_GRANT_TYPES.get(self.agent.kind, [])
        return grant_type in allowed

    @property
    def is_public(self) -> bool:
        return self.agent.token_endpoint_auth_method == "none"


class GatewayAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's AuthorizationServer with the gateway's clients, tokens and error shape."""

    def __init__(self, *, issuer: str, clients: ClientRegistry, tokens: AccessTokens,
                 revocations: RevocationCache, scopes: Callable[[], Mapping[str, str]],
                 service_names: Callable[[], Iterable[str]] = tuple,
                 refresh_token_days: int = 30) -> None:
        super().__init__()
        self.issuer = issuer
        self.clients = clients
        self.tokens = tokens
        self.revocations = revocations
        self.scopes = scopes
        # The services a payment mandate may name (RFC 9396 details are validated against them).
        self.service_names = service_names
        self.refresh_token_days = refresh_token_days
        from gateway.oauth.grants import register_grants

        register_grants(self)

    # --- Authlib hooks -----------------------------------------------------------------

    def query_client(self, client_id: str) -> OAuthClient | None:
        request = _current_request.get()
        agent = run_async(self.clients.resolve, request.db, client_id)
        return OAuthClient(agent, self.clients) if agent is not None else None

    def authenticate_client(self, request: OAuthRequest, methods: list[str],
                            endpoint: str = "token") -> OAuthClient:
        """Client authentication is the registry's (RFC 6749 section 2.3, RFC 7523)."""
        agent = run_async(self.clients.authenticate, request.db, None, request.form,
                          request.headers, endpoint)
        request.auth_method = agent.token_endpoint_auth_method
        client = OAuthClient(agent, self.clients)
        request.client = client
        return client

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        """Tokens are stored as they are issued (grants/issuance.py)."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: the gateway records activity elsewhere."""

    def create_oauth2_request(self, request: OAuthRequest) -> OAuthRequest:
        return request

    def validate_requested_scope(self, scope: str | None) -> None:
        if scope and not set(scope.split()) <= set(self.scopes()):
            unknown = sorted(set(scope.split()) - set(self.scopes()))
            raise InvalidScopeError(f"Unknown scope: {' '.join(unknown)}.")

    def validate_resource(self, requested: list[str]) -> str:
        """RFC 8707 section 2: one resource this server serves; ``<issuer>/api`` by default."""
        served = served_resources(self.issuer)
        if not requested:
            return served[0]
        if len(requested) > 1:
            raise InvalidTargetError("Ask for one resource per token.")
        if requested[0] not in served:
            raise InvalidTargetError(
                f"This server issues tokens for {', '.join(served)} only.")
        return requested[0]

    def handle_response(self, status: int, body: Any,
                        headers: list[tuple[str, str]]) -> Response:
        header_map = dict(headers)
        if status == 302 and "Location" in header_map:
            # RFC 9207 section 2: every authorization response names its issuer.
            header_map["Location"] = add_params_to_uri(header_map["Location"],
                                                       [("iss", self.issuer)])
            return Response(status_code=302, headers=header_map)
        if isinstance(body, dict):
            header_map.update(NO_STORE)
            header_map.pop("Content-Type", None)
            return JSONResponse(body, status_code=status, headers=header_map)
        return Response(content=body or b"", status_code=status, headers=header_map)

    def handle_error_response(self, request: OAuthRequest, error: OAuth2Error) -> Response:
        if error.redirect_uri:
            return self.handle_response(*error())
        converted = OAuthError(error.error, error.description or None,
                               status=error.status_code)
        return converted.response()

    # --- Async entry points for the routes ----------------------------------------------

    def build_request(self, request: Request, db: AsyncSession,
                      items: list[tuple[str, str]]) -> OAuthRequest:
        # The public URL, not the one this process saw: TLS may end at a proxy in front,
        # and Authlib refuses plain http (but loopback) for OAuth endpoints.
        uri = self.issuer + request.url.path
        if request.url.query:
            uri += "?" + request.url.query
        return OAuthRequest(request.method, uri, items, request.headers, db)

    async def run(self, oauth_request: OAuthRequest, fn: Callable[..., T], *args: Any) -> T:
        """Run an Authlib entry point for ``oauth_request`` in a worker thread."""

        def call() -> T:
            token = _current_request.set(oauth_request)
            try:
                return fn(*args)
            finally:
                _current_request.reset(token)

        return await anyio.to_thread.run_sync(call)

    async def token_response(self, request: Request, db: AsyncSession) -> Response:
        """RFC 6749 section 3.2: the token endpoint."""
        form = await request.form()
        items = [(k, str(v)) for k, v in form.multi_items()]
        oauth_request = self.build_request(request, db, items)
        response: Response = await self.run(oauth_request, self.create_token_response,
                                            oauth_request)
        return response
