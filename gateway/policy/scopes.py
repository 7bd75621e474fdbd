"""Every scope a grant can hold, with the plain words a person reads on consent and agents pages.

Services declare their own scopes in their OpenAPI (see services/*/auth.py); the
gateway adds the ones it enforces itself, such as spending money through its
payments hook, which no service can grant.
"""

from __future__ import annotations

from gateway.proxy.services import ServiceRegistry

# Paying through the gateway's payment hook (gateway/payments), under a mandate.
SPEND_SCOPE = "payments:spend"

GATEWAY_SCOPES: dict[str, str] = {
    SPEND_SCOPE: "Spend money for you within limits you set",
}


def scope_descriptions(registry: ServiceRegistry) -> dict[str, str]:
    """Return ``{scope: plain-language description}`` for the gateway's and services' scopes."""
    return {**registry.all_scopes(), **GATEWAY_SCOPES}
