"""The grant types the gateway's authorization server supports, as Authlib grant classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.oauth.server import GatewayAuthorizationServer


def register_grants(server: GatewayAuthorizationServer) -> None:
    from gateway.oauth.grants.authorization_code import AuthorizationCodeGrant, S256CodeChallenge
    from gateway.oauth.grants.client_credentials import ClientCredentialsGrant
    from gateway.oauth.grants.device_code import DeviceCodeGrant
    from gateway.oauth.grants.refresh_token import RefreshTokenGrant
    from gateway.oauth.grants.token_exchange import TokenExchangeGrant

    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(DeviceCodeGrant)
    server.register_grant(TokenExchangeGrant)
