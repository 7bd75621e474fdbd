"""Token exchange for sub-agents (RFC 8693): what a delegated token may carry, as pure values.

The *sub-agent* is the client calling the token endpoint: it authenticates as
itself (so it is the actor, and no ``actor_token`` is sent, section 2.1) and
presents its parent agent's access token as ``subject_token``. The parent can
hand on only what it holds, so this module computes the child's allowance from
the subject token and the request, and refuses (never silently trims) an
explicit request for more:

- ``scope`` (section 2.1): omitted = everything the subject token has; named =
  those scopes, each of which the subject token must have (``invalid_scope``).
- ``channels`` (our extension parameter, space-separated channel ids): the
  ``chat:channels`` constraint. Omitted = the parent's limit; named = those
  channels, all within the parent's limit if it has one (``invalid_scope``).
- ``resource`` (section 2.1, RFC 8707): omitted = the subject token's audience;
  named = one of its audiences (``invalid_target``, section 2.2.2).
- ``authorization_details`` (RFC 9396 section 6.2): a share of the parent's payment
  mandate, :meth:`Mandate.within` it (``invalid_authorization_details`` names what
  is wider), with ``payments:spend`` in the child's scope. Omitted = no mandate: a
  sub-agent can't pay unless it asks for a share (least privilege).

Expiry only shrinks: the child grant ends no later than the parent grant, and
the child token no later than the subject token. The ``act`` claim nests the
chain, the current actor outermost (section 4.1). The grant class in
gateway/oauth/grants/token_exchange.py turns these values into rows and tokens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.oauth.authorization_details import INVALID_DETAILS, MANDATE_NEEDS_SCOPE
from gateway.payments.mandates import Mandate
from gateway.policy.allowance import Allowance
from gateway.policy.scopes import SPEND_SCOPE

TOKEN_EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
CHANNELS = "chat:channels"
# A chain deeper than this is more likely a loop than a design; it also keeps tokens small.
MAX_CHAIN = 4


class ExchangeRefused(Exception):
    """The exchange is refused with an RFC 6749 section 5.2 / RFC 8693 section 2.2.2 error."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Subject:
    """What the parent holds: its verified token's claims, clamped by its grant as stored."""

    allowance: Allowance
    audiences: tuple[str, ...]
    token_expires_at: dt.datetime
    grant_expires_at: dt.datetime | None
    act: Mapping[str, Any] | None
    # The parent grant's mandate, if its token may spend (has payments:spend).
    mandate: Mandate | None = None


@dataclass(frozen=True)
class ExchangeRequest:
    """The narrowing the sub-agent asks for; ``None`` means the parameter was omitted."""

    scope: str | None = None
    channels: Sequence[str] | None = None
    resource: str | None = None
    # The share of the parent's mandate asked for; None: none (omitted or empty).
    mandate: Mandate | None = None


@dataclass(frozen=True)
class Delegation:
    """What the child grant and its token get."""

    allowance: Allowance
    resource: str
    grant_expires_at: dt.datetime | None
    token_expires_at: dt.datetime
    mandate: Mandate | None = None


def delegate(subject: Subject, request: ExchangeRequest, *, now: dt.datetime,
             token_ttl: dt.timedelta, client_ceiling: Allowance | None = None) -> Delegation:
    """Compute the child's allowance, audience and expiries, or refuse.

    ``client_ceiling`` is the most the sub-agent registered for: an omitted scope
    is trimmed to it, a named scope beyond it is refused like one beyond the parent.
    """
    if subject.token_expires_at <= now:
        raise ExchangeRefused("invalid_grant", "The subject token has expired.")
    wanted = _wanted(subject.allowance, request)
    widening = wanted.widening_over(subject.allowance)
    if widening.scopes:
        raise ExchangeRefused(
            "invalid_scope",
            f"The subject token does not have {' '.join(widening.scopes)}; "
            "an exchanged token can only be narrower.")
    if widening.constraints:
        raise ExchangeRefused(
            "invalid_scope",
            f"The subject token is limited in {', '.join(widening.constraints)}; "
            "the request names values beyond that limit.")
    if client_ceiling is not None:
        beyond = sorted(wanted.scopes - client_ceiling.scopes)
        if beyond and request.scope is not None:
            raise ExchangeRefused(
                "invalid_scope", f"This client is not registered for {' '.join(beyond)}.")
        wanted = Allowance(wanted.scopes & client_ceiling.scopes, wanted.constraints)
    if not wanted.scopes:
        raise ExchangeRefused("invalid_scope", "The exchanged token would have no scope.")
    return Delegation(
        allowance=wanted,
        resource=_resource(subject.audiences, request.resource),
        grant_expires_at=subject.grant_expires_at,
        token_expires_at=min(subject.token_expires_at, now + token_ttl),
        mandate=_share(subject.mandate, request.mandate, wanted),
    )


def _share(parent: Mandate | None, asked: Mandate | None, wanted: Allowance) -> Mandate | None:
    """The share of the parent's mandate asked for, refused unless it is within it."""
    if asked is None:
        return None
    if SPEND_SCOPE not in wanted.scopes:
        raise ExchangeRefused("invalid_request", MANDATE_NEEDS_SCOPE)
    if parent is None:
        raise ExchangeRefused(INVALID_DETAILS,
                              "The subject token may not spend: it has no mandate to share.")
    wider = asked.widening_over(parent)
    if wider:
        raise ExchangeRefused(
            INVALID_DETAILS,
            f"The payment_mandate is wider than the subject token's in {', '.join(wider)}; "
            "a share can only be narrower.")
    return asked


def _wanted(parent: Allowance, request: ExchangeRequest) -> Allowance:
    """The allowance asked for, with omitted parameters filled in from the parent."""
    scopes = parent.scopes if request.scope is None else frozenset(request.scope.split())
    constraints = dict(parent.constraints)
    if request.channels is not None:
        constraints[CHANNELS] = frozenset(request.channels)
    return Allowance(scopes, constraints)


def _resource(audiences: Sequence[str], requested: str | None) -> str:
    if requested is None:
        if len(audiences) != 1:
            raise ExchangeRefused("invalid_target",
                                  "The subject token has several audiences: name a resource.")
        return audiences[0]
    if requested not in audiences:
        raise ExchangeRefused("invalid_target",
                              "The resource must be one of the subject token's audiences.")
    return requested


def act_chain(actor_sub: str, actor_client_id: str,
              parent_act: Mapping[str, Any] | None) -> dict[str, Any]:
    """Nest the new actor over the parent's chain: the current actor outermost (section 4.1)."""
    act: dict[str, Any] = {"sub": actor_sub, "client_id": actor_client_id}
    if parent_act:
        if chain_depth(parent_act) >= MAX_CHAIN:
            raise ExchangeRefused("invalid_request",
                                  f"A delegation chain may have at most {MAX_CHAIN} agents.")
        act["act"] = dict(parent_act)
    return act


def chain_depth(act: Mapping[str, Any] | None) -> int:
    """How many actors an ``act`` claim names."""
    depth = 0
    while act:
        depth += 1
        nested = act.get("act")
        act = nested if isinstance(nested, Mapping) else None
    return depth


def parse_channels(value: str | None) -> list[str] | None:
    """Read the ``channels`` parameter: space- or comma-separated ids; absent = omitted."""
    if value is None:
        return None
    return [c for c in value.replace(",", " ").split() if c]
