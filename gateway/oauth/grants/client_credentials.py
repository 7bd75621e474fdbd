"""Client credentials grant (RFC 6749 section 4.4): an agent acting as itself.

The token's ``sub`` is the agent (``agent:<id>``) and it carries no grant: no
person consented, so it reaches no person's data (the gateway answers 403
``no-person``). Only confidential clients may use it (section 4.4).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from gateway.oauth.server import GatewayAuthorizationServer, OAuthClient, OAuthRequest


class ClientCredentialsGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = "client_credentials"
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post",
                                   "private_key_jwt"]
    request: OAuthRequest
    server: GatewayAuthorizationServer

    def validate_token_request(self) -> None:
        client: OAuthClient = self.authenticate_token_endpoint_client()
        if client.is_public:
            raise UnauthorizedClientError("A public client has no credentials of its own.")
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use client credentials.")
        self.validate_requested_scope()
        scope = client.get_allowed_scope(self.request.payload.scope)
        if not scope:
            raise InvalidScopeError("Ask for scopes this client registered.")
        self.request.scope = scope
        self.request.resource = self.server.validate_resource(
            self.request.payload.datalist.get("resource", []))
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        tokens = self.server.tokens
        scope = frozenset(self.request.scope.split())
        assert self.request.resource is not None
        claims = tokens.agent_claims(self.request.client.agent, audience=self.request.resource,
                                     scope=scope)
        token = {"access_token": tokens.mint(claims), "token_type": "Bearer",
                 "expires_in": claims.exp - claims.iat, "scope": " ".join(sorted(scope))}
        return 200, token, self.TOKEN_RESPONSE_HEADER
