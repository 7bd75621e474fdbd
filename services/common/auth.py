"""Who is calling a service: the verified Txn-Token as a FastAPI dependency.

A service never sees the caller's credential, only the gateway's Txn-Token. Each
route names the scopes it needs with ``Security(scheme, scopes=[...])``, which puts
them in the service's OpenAPI (the gateway reads them from there) and checks them
again here, so a token minted for one purpose can't be used for another.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.openapi.models import OAuthFlowAuthorizationCode, OAuthFlows
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from services.common.problems import Problem
from services.common.txn_token import (
    TXN_TOKEN_HEADER,
    InvalidTxnToken,
    TxnContext,
    TxnTokenVerifier,
)

SECURITY_SCHEME = "agentgate"


class TxnTokenScheme(SecurityBase):
    """Verifies the Txn-Token and the route's scopes; documented as the gateway's OAuth 2 scheme.

    The service's OpenAPI describes what a *caller of the gateway* needs (an OAuth
    token with these scopes); the gateway turns that into a Txn-Token for us. Use it
    with ``Security(scheme, scopes=[...])``: FastAPI then both documents the scopes
    and hands them to :meth:`__call__` as ``SecurityScopes``.
    """

    def __init__(self, scopes: dict[str, str]) -> None:
        self.scopes = scopes
        self.model = OAuth2Model(
            flows=OAuthFlows(
                authorizationCode=OAuthFlowAuthorizationCode(
                    authorizationUrl="/oauth/authorize", tokenUrl="/oauth/token", scopes=scopes
                )
            ),
            description="Tokens issued by the agentgate authorization server.",
        )
        self.scheme_name = SECURITY_SCHEME

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> TxnContext:
        token = request.headers.get(TXN_TOKEN_HEADER)
        if not token:
            raise Problem(401, "unauthorized", "Call this service through the gateway.")
        verifier: TxnTokenVerifier = request.app.state.txn_verifier
        try:
            ctx = await verifier.verify(token)
        except InvalidTxnToken as exc:
            raise Problem(401, "invalid-token", f"The Txn-Token was refused: {exc}.") from exc
        missing = [s for s in security_scopes.scopes if s not in ctx.scopes]
        if missing:
            raise Problem(
                403, "insufficient-scope", "The caller lacks a scope this operation needs.",
                required_scopes=sorted(security_scopes.scopes), missing_scopes=missing,
            )
        request.state.caller = ctx
        return ctx
