"""The API catalog: where every API of this gateway is and where its descriptions are (RFC 9727).

``GET /.well-known/api-catalog`` answers a linkset (RFC 9264 section 4.2,
``application/linkset+json``) with the RFC 9727 profile (section 4.2). Each API is
one context ``anchor`` with the link relations of RFC 8631:

- ``service-desc``: the machine-readable description (the aggregated OpenAPI);
- ``service-doc``: the documentation to read (``/llms.txt``, one page for agents);
- ``service-meta``: its RFC 9728 protected resource metadata (who issues its
  tokens, which scopes exist);
- ``status``: the gateway's health.

The entries come from what the gateway serves, never from a list kept by hand: one
per service behind ``/api/{service}`` (the services the registry knows) and one per
other protected resource in :data:`gateway.oauth.resources.RESOURCE_PATHS` (the MCP
endpoint, once it is served). ``HEAD`` answers the same headers with a
``Link: <...>; rel="api-catalog"`` (RFC 9727 section 2 and 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.oauth.resources import DEFAULT_RESOURCE, RESOURCE_PATHS, metadata_url, resource_url

CATALOG_PATH = "/.well-known/api-catalog"
# RFC 9727 section 7.3: the profile URI that marks a linkset as an API catalog.
PROFILE = "https://www.rfc-editor.org/info/rfc9727"
LINKSET_JSON = f'application/linkset+json; profile="{PROFILE}"'
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.1"


def catalog_link(issuer: str) -> str:
    """The ``Link`` header value that points at the catalog (RFC 9727 section 3)."""
    return f'<{issuer}{CATALOG_PATH}>; rel="api-catalog"'


def _entry(anchor: str, title: str, *, issuer: str, resource: str,
           description: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"anchor": anchor}
    if description:
        entry["service-desc"] = [{"href": f"{issuer}/openapi.json", "type": OPENAPI_JSON,
                                  "title": f"OpenAPI of {title}"}]
    entry["service-doc"] = [{"href": f"{issuer}/llms.txt", "type": "text/markdown",
                             "title": f"How an agent authorizes and uses {title}"}]
    entry["service-meta"] = [{"href": metadata_url(issuer, resource), "type": "application/json",
                              "title": "OAuth 2.0 protected resource metadata (RFC 9728)"}]
    entry["status"] = [{"href": f"{issuer}/healthz", "type": "application/json"}]
    return entry


def api_catalog(issuer: str, services: Iterable[str]) -> dict[str, Any]:
    """The catalog: one entry per service under ``/api``, one per other protected resource."""
    api_prefix = RESOURCE_PATHS[DEFAULT_RESOURCE]
    linkset = [_entry(f"{issuer}{api_prefix}/{name}", f"the {name} service", issuer=issuer,
                      resource=DEFAULT_RESOURCE, description=True)
               for name in sorted(services)]
    for name in RESOURCE_PATHS:
        if name != DEFAULT_RESOURCE:
            # Not an OpenAPI-described API (the MCP endpoint lists its own tools).
            linkset.append(_entry(resource_url(issuer, name), f"the {name} endpoint",
                                  issuer=issuer, resource=name, description=False))
    return {"linkset": linkset}
