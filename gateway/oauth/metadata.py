"""Discovery documents: RFC 8414 authorization server metadata, RFC 9728 resource metadata."""

from __future__ import annotations

from typing import Any

from gateway.oauth.authorization_details import TYPES_SUPPORTED
from gateway.oauth.resources import RESOURCE_PATHS, resource_url

GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials",
               "urn:ietf:params:oauth:grant-type:device_code",
               "urn:ietf:params:oauth:grant-type:token-exchange"]
TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post",
                               "private_key_jwt"]


def authorization_server_metadata(issuer: str, scopes: list[str]) -> dict[str, Any]:
    """RFC 8414 section 2, with RFC 9207 and Client ID Metadata Document support."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "registration_endpoint": f"{issuer}/oauth/register",
        "device_authorization_endpoint": f"{issuer}/oauth/device_authorization",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "jwks_uri": f"{issuer}/oauth/jwks.json",
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "code_challenge_methods_supported": ["S256"],
        # RFC 9396 section 10: the one type of authorization details understood here.
        "authorization_details_types_supported": TYPES_SUPPORTED,
        "token_endpoint_auth_methods_supported": TOKEN_ENDPOINT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA", "ES256", "RS256"],
        "revocation_endpoint_auth_methods_supported": TOKEN_ENDPOINT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": TOKEN_ENDPOINT_AUTH_METHODS,
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True,
        "service_documentation": f"{issuer}/openapi.json",
    }


def protected_resource_metadata(issuer: str, name: str, scopes: list[str]) -> dict[str, Any]:
    """RFC 9728 section 2: which server issues tokens for this resource, and how to send them."""
    if name not in RESOURCE_PATHS:
        raise KeyError(name)
    return {
        "resource": resource_url(issuer, name),
        "authorization_servers": [issuer],
        "jwks_uri": f"{issuer}/oauth/jwks.json",
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": f"agentgate {name}",
        "resource_documentation": f"{issuer}/openapi.json",
    }
