"""The protected resources this gateway serves (RFC 8707 resource indicators, RFC 9728).

A token's ``aud`` is one of these; a token for one never works on another. Each
resource has its own RFC 9728 metadata document at
``/.well-known/oauth-protected-resource/<name>``. Add an entry here to serve a new
resource: the REST API is ``api``, the MCP endpoint (gateway/mcp) is ``mcp``.
"""

from __future__ import annotations

# Resource name -> the URL path prefix its calls arrive on.
RESOURCE_PATHS: dict[str, str] = {"api": "/api", "mcp": "/mcp"}

DEFAULT_RESOURCE = "api"


def resource_url(issuer: str, name: str = DEFAULT_RESOURCE) -> str:
    """The resource identifier (a URL, RFC 8707 section 2): ``<issuer>/<name>``."""
    return f"{issuer}/{name}"


def served_resources(issuer: str) -> list[str]:
    return [resource_url(issuer, name) for name in RESOURCE_PATHS]


def resource_name_for_path(path: str) -> str:
    """The name of the resource a request to ``path`` is a call to."""
    for name, prefix in RESOURCE_PATHS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return DEFAULT_RESOURCE


def resource_for_path(issuer: str, path: str) -> str:
    """The resource a request to ``path`` is a call to (the audience its token must have)."""
    return resource_url(issuer, resource_name_for_path(path))


def metadata_url(issuer: str, name: str = DEFAULT_RESOURCE) -> str:
    """Where the RFC 9728 protected resource metadata of ``name`` lives."""
    return f"{issuer}/.well-known/oauth-protected-resource/{name}"


def metadata_url_for_audience(issuer: str, audience: str | None) -> str | None:
    """The metadata URL of the resource a token was issued for, if it is one of ours."""
    for name in RESOURCE_PATHS:
        if audience == resource_url(issuer, name):
            return metadata_url(issuer, name)
    return None
