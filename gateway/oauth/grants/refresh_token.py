"""Refresh token grant (RFC 6749 section 6) with rotation and reuse detection.

Every use returns a new refresh token in the same family and marks the old one
used (RFC 9700 section 4.14.2). A used token presented again means two parties
hold the family: the whole family is revoked, its refresh tokens and the access
tokens issued in it, and the agent must ask the person again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Grant
from gateway.oauth.issuance import digest, grant_is_live, issue_for_grant, revoke_family
from gateway.oauth.models import RefreshToken
from gateway.oauth.server import (
    GatewayAuthorizationServer,
    InvalidTargetError,
    OAuthClient,
    OAuthRequest,
    run_async,
)
from services.common.db import utcnow


class RefreshTokenGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = "refresh_token"
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post",
                                   "private_key_jwt"]
    request: OAuthRequest
    server: GatewayAuthorizationServer

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use refresh tokens.")
        if not self.request.form.get("refresh_token"):
            raise InvalidRequestError("Missing refresh_token.")
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        form = self.request.form
        token = run_async(_rotate, self.request.db, self.server, self.request.client,
                          form["refresh_token"], form.get("scope"),
                          self.request.payload.datalist.get("resource", []))
        return 200, token, self.TOKEN_RESPONSE_HEADER


async def _rotate(db: AsyncSession, server: GatewayAuthorizationServer, client: OAuthClient,
                  secret: str, scope: str | None, resources: list[str]) -> dict[str, Any]:
    row = await db.get(RefreshToken, digest(secret))
    if row is None or row.agent_id != client.agent.id:
        raise InvalidGrantError("Unknown refresh token.")
    now = utcnow()
    if row.revoked_at is not None or row.expires_at <= now:
        raise InvalidGrantError("The refresh token is expired or revoked.")
    result = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == row.token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_family(db, row.family_id,
                            lifetime=dt.timedelta(days=server.refresh_token_days))
        server.revocations.invalidate()
        raise InvalidGrantError(
            "This refresh token was already used: every token of this authorization is revoked.")
    grant = await db.get(Grant, row.grant_id)
    if not grant_is_live(grant, now):
        raise InvalidGrantError("The person revoked this authorization.")
    assert grant is not None
    if resources and resources != [row.resource]:
        raise InvalidTargetError("The resource must be the one the authorization was for.")
    held = frozenset(row.scope.split()) & frozenset(grant.scope.split())
    wanted = frozenset(scope.split()) if scope else held
    if not wanted <= held:
        raise InvalidScopeError("A refresh can only keep or narrow the scope.")
    return await issue_for_grant(db, server, grant, client.agent, audience=row.resource,
                                 scope=wanted, family_id=row.family_id, with_refresh=True)
