"""Token exchange grant (RFC 8693 section 2) on Authlib's extension points.

Authlib has no token exchange, so this is a grant class of our own:
``BaseGrant`` + ``TokenEndpointMixin`` for the grant type
``urn:ietf:params:oauth:grant-type:token-exchange``. The calling client is the
sub-agent (it authenticates as itself and is the actor); ``subject_token`` is its
parent agent's access token. Everything after client authentication, what the
child may have, its grant and its token, is gateway/oauth/delegation.py, run on
the event loop with the request's session.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error, UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from gateway.oauth import delegation
from gateway.oauth.errors import OAuthError
from gateway.oauth.exchange import TOKEN_EXCHANGE_GRANT_TYPE
from gateway.oauth.server import GatewayAuthorizationServer, OAuthClient, OAuthRequest, run_async


def authlib_error(error: OAuthError) -> OAuth2Error:
    """Our error as Authlib's, so the server answers it like every other token error."""
    return OAuth2Error(error.description, status_code=error.status, error=error.error)


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = TOKEN_EXCHANGE_GRANT_TYPE
    # A public sub-agent names itself; its parent's token is what proves the delegation.
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post",
                                   "private_key_jwt"]
    request: OAuthRequest
    server: GatewayAuthorizationServer

    def validate_token_request(self) -> None:
        client: OAuthClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client is not registered for token exchange.")
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: OAuthClient = self.request.client
        try:
            body: dict[str, Any] = run_async(
                _exchange, self.request, self.server, client)
        except OAuthError as error:
            raise authlib_error(error) from None
        return 200, body, self.TOKEN_RESPONSE_HEADER


async def _exchange(request: OAuthRequest, server: GatewayAuthorizationServer,
                    client: OAuthClient) -> dict[str, Any]:
    return await delegation.exchange(request.db, server.tokens, client.agent, request.form,
                                     issuer=server.issuer,
                                     known_services=server.service_names())
