"""Authorization code grant (RFC 6749 section 4.1) with PKCE (RFC 7636), S256 only.

On top of Authlib's grant:
- PKCE is required of every client and only ``S256`` is accepted (OAuth 2.1 section
  4.1.1; RFC 9700 section 2.1.1): Authlib's ``CodeChallenge`` allows ``plain`` and
  skips clients that send no challenge, so :class:`S256CodeChallenge` narrows it.
- ``resource`` (RFC 8707 section 2) is validated and bound into the code, then into
  the token's ``aud``.
- ``authorization_details`` (RFC 9396 section 2) is validated here, stored on the
  grant the person approves, and returned with the tokens (section 7).
- A code is usable once. Redemption marks it used and starts a refresh family in
  one conditional UPDATE; presenting it again revokes that family, which stops the
  refresh tokens and the access tokens it issued (RFC 6749 section 4.1.2).
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error, grants
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.models import Grant
from gateway.oauth.authorization_details import requested_details
from gateway.oauth.errors import OAuthError
from gateway.oauth.issuance import digest, grant_is_live, issue_for_grant, revoke_family
from gateway.oauth.models import AuthorizationCode
from gateway.oauth.server import (
    GatewayAuthorizationServer,
    InvalidTargetError,
    OAuthClient,
    OAuthRequest,
    run_async,
)
from services.common.db import utcnow

CODE_LIFETIME = dt.timedelta(minutes=5)


def _compare_s256(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE that is always required and accepts only S256."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": _compare_s256}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        # Confidential clients too: the code is bound to this exchange whoever redeems it.
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing code_verifier.")
        super().validate_code_verifier(grant, result)


class RedeemedCode:
    """A code that was just redeemed, as Authlib's AuthorizationCodeMixin."""

    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post",
                                   "private_key_jwt"]
    request: OAuthRequest
    server: GatewayAuthorizationServer

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        try:
            self.request.resource = self.server.validate_resource(
                self.request.payload.datalist.get("resource", []))
            self.request.authorization_details = requested_details(
                self.request.payload.data.get("authorization_details"),
                scopes=(self.request.scope or "").split(),
                known_services=self.server.service_names())
        except OAuthError as error:
            # Known client, registered redirect URI: the agent is told (RFC 9396 section 5).
            raise OAuth2Error(error.description, error=error.error,
                              redirect_uri=redirect_uri) from None
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
        run_async(_store_code, request.db, code, request)

    def query_authorization_code(self, code: str, client: OAuthClient) -> RedeemedCode | None:
        return run_async(_redeem_code, self.request.db, self.server, code, client)

    def delete_authorization_code(self, authorization_code: RedeemedCode) -> None:
        """Nothing to delete: redemption marked it used (a replay must be recognised)."""

    def authenticate_user(self, authorization_code: RedeemedCode) -> uuid.UUID:
        return authorization_code.row.user_id

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: RedeemedCode = self.request.authorization_code
        requested = self.request.payload.datalist.get("resource", [])
        if requested and requested != [code.row.resource]:
            raise InvalidTargetError("The resource must be the one the code was issued for.")
        token = run_async(_issue_for_code, self.request.db, self.server, code.row,
                          self.request.client)
        return 200, token, self.TOKEN_RESPONSE_HEADER


async def _store_code(db: AsyncSession, code: str, request: OAuthRequest) -> None:
    assert request.grant_row_id is not None, "the consent step records the grant first"
    # The code carries what the person granted, which may be less than the request
    # asked for (they can untick scopes on the consent page): the grant's scope.
    grant = await db.get(Grant, request.grant_row_id)
    assert grant is not None
    data = request.payload.data
    db.add(AuthorizationCode(
        code_hash=digest(code), agent_id=request.client.agent.id, user_id=request.user,
        grant_id=grant.id, redirect_uri=request.payload.redirect_uri or "",
        scope=grant.scope, resource=request.resource or "",
        code_challenge=data["code_challenge"], code_challenge_method="S256",
        expires_at=utcnow() + CODE_LIFETIME))
    await db.flush()


async def _redeem_code(db: AsyncSession, server: GatewayAuthorizationServer, code: str,
                       client: OAuthClient) -> RedeemedCode | None:
    row = await db.get(AuthorizationCode, digest(code))
    if row is None or row.agent_id != client.agent.id:
        return None
    now = utcnow()
    # One statement marks the code used and names its family: two concurrent
    # redemptions can't both succeed, and a replay always finds the family to revoke.
    result = await db.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == row.code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=now, family_id=uuid.uuid4())
        .execution_options(synchronize_session=False))
    await db.refresh(row)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if row.family_id is not None:
            await revoke_family(db, row.family_id,
                                lifetime=dt.timedelta(days=server.refresh_token_days))
            server.revocations.invalidate()
        return None
    if row.expires_at <= now:
        return None
    return RedeemedCode(row)


async def _issue_for_code(db: AsyncSession, server: GatewayAuthorizationServer,
                          row: AuthorizationCode, client: OAuthClient) -> dict[str, Any]:
    grant = await db.get(Grant, row.grant_id)
    if not grant_is_live(grant, utcnow()):
        raise InvalidGrantError("The person revoked this authorization.")
    assert grant is not None
    assert row.family_id is not None
    return await issue_for_grant(
        db, server, grant, client.agent, audience=row.resource,
        scope=frozenset(row.scope.split()) & frozenset(grant.scope.split()),
        family_id=row.family_id, with_refresh=client.check_grant_type("refresh_token"))
