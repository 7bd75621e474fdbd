"""Token exchange for sub-agents (RFC 8693 section 2): verify, narrow, record, mint.

The sub-agent authenticates as the client and sends its parent agent's access
token as ``subject_token`` (section 2.1); it is the actor itself, so no
``actor_token``. This checks the subject token with the one verifier (signature,
issuer, expiry, revocation) and its grant in the database, lets
gateway/oauth/exchange.py decide what the child may have (never more than the
parent; a share of its payment mandate only if asked for), records it as a child
Grant under the parent's (so revoking the parent stops it,
gateway/identity/grants.py) and mints the child's access token, whose ``act``
nests the sub-agent over the parent's chain (section 4.1).

No refresh token is issued (section 2.2.1 makes it optional): the sub-agent
exchanges a fresh parent token when it needs one, so it can never outlive the
parent's own access.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.grants import allowance_of
from gateway.identity.models import Agent, Grant
from gateway.oauth.authorization_details import parsed_details, with_details
from gateway.oauth.errors import OAuthError
from gateway.oauth.exchange import (
    ACCESS_TOKEN_TYPE,
    MAX_CHAIN,
    TOKEN_EXCHANGE_GRANT_TYPE,
    Delegation,
    ExchangeRefused,
    ExchangeRequest,
    Subject,
    delegate,
    parse_channels,
)
from gateway.oauth.introspection import verify_access_token
from gateway.oauth.tokens import AccessClaims, AccessTokens, ActClaim
from gateway.payments.mandates import mandate_of
from gateway.policy.allowance import Allowance
from gateway.policy.scopes import SPEND_SCOPE
from services.common.db import utcnow


def _param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value if value else None


def _request(params: Mapping[str, str],
             known_services: Iterable[str]) -> tuple[str, ExchangeRequest]:
    """Check the section 2.1 parameters; return the subject token and the narrowing asked for."""
    subject_token = _param(params, "subject_token")
    if subject_token is None:
        raise OAuthError("invalid_request", "Send the parent agent's token as subject_token.")
    if params.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise OAuthError("invalid_request", f"subject_token_type must be {ACCESS_TOKEN_TYPE}.")
    if _param(params, "actor_token") or _param(params, "actor_token_type"):
        raise OAuthError("invalid_request", "The authenticated client is the actor: "
                         "send no actor_token.")
    requested = _param(params, "requested_token_type")
    if requested not in (None, ACCESS_TOKEN_TYPE):
        raise OAuthError("invalid_request", "Only access tokens are issued by exchange.")
    if _param(params, "audience"):
        # Section 2.1 allows logical names; here every audience is a resource URL.
        raise OAuthError("invalid_target", "Name the resource with 'resource', not 'audience'.")
    scope = params.get("scope")
    details = parsed_details(params.get("authorization_details"), known_services=known_services)
    return subject_token, ExchangeRequest(
        scope=scope if scope is not None else None,
        channels=parse_channels(params.get("channels")),
        resource=_param(params, "resource"),
        mandate=mandate_of(details))


async def _parent_grant(db: AsyncSession, claims: AccessClaims, now: dt.datetime) -> Grant:
    grant = await db.get(Grant, uuid.UUID(claims.grant_id)) if claims.grant_id else None
    if grant is None or grant.revoked_at is not None or (
            grant.expires_at is not None and grant.expires_at <= now):
        raise OAuthError("invalid_grant", "The subject token's grant is no longer valid.")
    return grant


async def _child_grant(db: AsyncSession, parent: Grant, agent: Agent, delegation: Delegation,
                       now: dt.datetime) -> Grant:
    """The sub-agent's grant under ``parent``: an identical live one is reused.

    Reuse keeps one entry per sub-agent on the Connected agents page however often
    it exchanges; a different narrowing gets its own grant.
    """
    scope = delegation.allowance.scope_string(order=parent.scope)
    constraints = delegation.allowance.constraint_lists()
    details = [delegation.mandate.to_detail()] if delegation.mandate else []
    for existing in (await db.scalars(select(Grant).where(
            Grant.parent_id == parent.id, Grant.agent_id == agent.id,
            Grant.revoked_at.is_(None)))).all():
        if (allowance_of(existing) == delegation.allowance
                and existing.resources == [delegation.resource]
                and existing.expires_at == delegation.grant_expires_at
                and mandate_of(existing.authorization_details) == delegation.mandate):
            return existing
    child = Grant(user_id=parent.user_id, agent_id=agent.id, parent_id=parent.id, scope=scope,
                  constraints=constraints, resources=[delegation.resource],
                  authorization_details=details,
                  expires_at=delegation.grant_expires_at, created_at=now, updated_at=now)
    db.add(child)
    await db.flush()
    return child


async def exchange(db: AsyncSession, tokens: AccessTokens, agent: Agent,
                   params: Mapping[str, str], *, issuer: str,
                   known_services: Iterable[str] = (),
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """Exchange a parent agent's token for a narrower one for ``agent``; the section 2.2 body."""
    now = now or utcnow()
    if agent.grant_types and TOKEN_EXCHANGE_GRANT_TYPE not in agent.grant_types:
        raise OAuthError("unauthorized_client", "This client is not registered for token "
                         "exchange.")
    subject_token, asked = _request(params, known_services)
    claims = await verify_access_token(tokens, subject_token, issuer)
    if claims is None:
        raise OAuthError("invalid_grant", "The subject token is invalid, expired or revoked.")
    if claims.person_id is None or not claims.act:
        # A client-credentials token has no person to delegate for; a person's own API
        # token is not delegated here: a person connects agents on the consent page.
        raise OAuthError("invalid_grant", "Only an agent's token for a person can be exchanged.")
    if claims.act[0].agent_id == agent.id:
        raise OAuthError("invalid_grant", "The subject token is already yours.")
    if len(claims.act) >= MAX_CHAIN:
        raise OAuthError("invalid_request",
                         f"A delegation chain may have at most {MAX_CHAIN} agents.")
    parent = await _parent_grant(db, claims, now)
    # What the parent's token carries, and never more than its grant holds now.
    held = Allowance.of(claims.scope, claims.constraints).clamp(allowance_of(parent))
    subject = Subject(
        allowance=held, audiences=(claims.aud,),
        token_expires_at=dt.datetime.fromtimestamp(claims.exp, tz=dt.UTC),
        grant_expires_at=parent.expires_at, act=None,
        mandate=(mandate_of(parent.authorization_details)
                 if SPEND_SCOPE in held.scopes else None))
    ceiling = Allowance.of(agent.scope) if agent.scope.strip() else None
    try:
        delegation = delegate(subject, asked, now=now, token_ttl=dt.timedelta(seconds=tokens.ttl),
                              client_ceiling=ceiling)
    except ExchangeRefused as refused:
        raise OAuthError(refused.error, refused.description) from None
    child = await _child_grant(db, parent, agent, delegation, now)
    issued = AccessClaims(
        sub=claims.sub, aud=delegation.resource, client_id=agent.client_id,
        scope=delegation.allowance.scopes, iat=int(now.timestamp()),
        exp=int(delegation.token_expires_at.timestamp()), grant_id=str(child.id),
        gv=child.version, act=(ActClaim.of(agent), *claims.act),
        constraints=delegation.allowance.constraint_lists(),
        # The parent's refresh family: revoking it (RFC 7009, refresh reuse) stops this too.
        fam=claims.fam)
    return with_details({
        "access_token": tokens.mint(issued),
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": max(0, issued.exp - int(now.timestamp())),
        "scope": child.scope,
    }, child.authorization_details, delegation.allowance.scopes)
