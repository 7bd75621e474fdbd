"""Device authorization grant, token endpoint side (RFC 8628 section 3.4/3.5).

Authlib's ``DeviceCodeGrant`` splits a poll into three look-ups (the credential,
the person's decision, whether to slow down); here one call to
gateway/oauth/device.py answers a poll, so redeeming an approved code is one
conditional update and two racing polls can't both get tokens. The errors are
Authlib's section 3.5 errors, answered as responses, so the poll's bookkeeping
(its time, a longer interval after ``slow_down``) commits with the request.
"""

from __future__ import annotations

import uuid
from typing import Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError

from gateway.identity.models import Grant
from gateway.oauth import device
from gateway.oauth.issuance import grant_is_live, issue_for_grant
from gateway.oauth.server import GatewayAuthorizationServer, OAuthClient, OAuthRequest, run_async
from services.common.db import utcnow

_ERRORS = {
    "authorization_pending": AuthorizationPendingError,
    "slow_down": SlowDownError,
    "access_denied": AccessDeniedError,
    "expired_token": ExpiredTokenError,
}


class DeviceCodeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = device.DEVICE_CODE_GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post",
                                   "private_key_jwt"]
    request: OAuthRequest
    server: GatewayAuthorizationServer

    def validate_token_request(self) -> None:
        if not self.request.form.get("device_code"):
            raise InvalidRequestError("Send the device_code.")
        client: OAuthClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client is not registered for the device grant.")
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        outcome, token = run_async(_redeem, self.request, self.server, self.request.client)
        if token is None:
            error = _ERRORS.get(outcome)
            if error is None:
                raise InvalidGrantError("The device code is invalid, already used, or its "
                                        "grant was revoked.")
            raise error()
        return 200, token, self.TOKEN_RESPONSE_HEADER


async def _redeem(request: OAuthRequest, server: GatewayAuthorizationServer,
                  client: OAuthClient) -> tuple[str, dict[str, Any] | None]:
    db, agent = request.db, client.agent
    outcome, record = await device.poll(db, request.form["device_code"], agent)
    if outcome != "approved" or record is None or record.grant_id is None:
        return outcome, None
    grant = await db.get(Grant, record.grant_id)
    if grant is None or not grant_is_live(grant, utcnow()):
        return "invalid_grant", None
    token = await issue_for_grant(
        db, server, grant, agent, audience=record.resource,
        scope=frozenset(grant.scope.split()), family_id=uuid.uuid4(),
        with_refresh=client.check_grant_type("refresh_token"))
    return outcome, token
