"""RFC 9396 authorization details at the authorization server: asked for, granted, echoed.

The only type the gateway knows is ``payment_mandate`` (gateway/payments/mandates.py).
An agent asks for one with the ``authorization_details`` parameter of its
authorization request, its device authorization request (section 2 and 6) or a
token exchange; the grant keeps what the person approved, and every token
response (section 7) and introspection answer (section 9.2) says it again, so the
agent knows exactly what it may spend.

A mandate is only meaningful with the ``payments:spend`` scope: asking for one
without the scope is refused, and a token whose scope lacks it carries no details
(it can't pay, so it is not told it may).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gateway.oauth.errors import OAuthError
from gateway.payments.mandates import InvalidMandate, parse_authorization_details
from gateway.policy.scopes import SPEND_SCOPE

# RFC 9396 section 5: the error for details that are not understood or not allowed.
INVALID_DETAILS = "invalid_authorization_details"
TYPES_SUPPORTED = ["payment_mandate"]
MANDATE_NEEDS_SCOPE = f"A payment_mandate needs the {SPEND_SCOPE} scope: ask for it too."


def parsed_details(raw: str | None, *, known_services: Iterable[str]) -> list[dict[str, Any]]:
    """The ``authorization_details`` parameter, validated (``invalid_authorization_details``)."""
    try:
        return parse_authorization_details(raw, known_services=known_services)
    except InvalidMandate as invalid:
        raise OAuthError(INVALID_DETAILS, str(invalid)) from None


def requested_details(
    raw: str | None, *, scopes: Iterable[str], known_services: Iterable[str]
) -> list[dict[str, Any]]:
    """Validate the ``authorization_details`` parameter of a request asking for ``scopes``."""
    details = parsed_details(raw, known_services=known_services)
    if details and SPEND_SCOPE not in set(scopes):
        raise OAuthError("invalid_request", MANDATE_NEEDS_SCOPE)
    return details


def granted_details(
    details: Sequence[Mapping[str, Any]] | None, scopes: Iterable[str]
) -> list[dict[str, Any]]:
    """What a token with ``scopes`` says it carries of a grant's details (section 7)."""
    if not details or SPEND_SCOPE not in set(scopes):
        return []
    return [dict(detail) for detail in details]


def with_details(
    body: dict[str, Any], details: Sequence[Mapping[str, Any]] | None, scopes: Iterable[str]
) -> dict[str, Any]:
    """Add ``authorization_details`` to a token response or introspection answer, if any."""
    granted = granted_details(details, scopes)
    if granted:
        body["authorization_details"] = granted
    return body
