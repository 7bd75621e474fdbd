"""Dynamic client registration (RFC 7591): ``POST /oauth/register``.

An agent that has no Client ID Metadata Document registers by sending its
metadata (RFC 7591 section 2) and gets an opaque ``client_id`` back
(section 3.2.1). Public clients (``token_endpoint_auth_method: none``) rely on
PKCE; confidential ones either get a generated secret, shown this once and
stored only as a hash (``client_secret_basic`` / ``client_secret_post``), or
register public keys (``private_key_jwt`` with ``jwks`` or ``jwks_uri``).

Registration is open, as the MCP authorization spec expects; what an agent
registers is only a ceiling: a person still consents to each scope. Every
refusal is an RFC 7591 section 3.2.2 error (``invalid_redirect_uri``,
``invalid_client_metadata``) with problem members, and no input, however
malformed, gives a 500.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.db import SessionDep
from gateway.identity.models import Agent
from gateway.oauth.client_auth import new_client_secret
from gateway.oauth.client_errors import ClientError, InvalidClientMetadata
from gateway.oauth.client_metadata import SECRET_METHODS, ClientMetadata, validate_metadata
from gateway.oauth.schemas import REGISTRATION_REQUEST, REGISTRATION_RESPONSES
from gateway.policy.scopes import scope_descriptions

router = APIRouter(tags=["oauth"])

# Client metadata is a few hundred bytes; anything near this is not metadata.
MAX_REGISTRATION_BYTES = 32 * 1024


def _known_scopes(request: Request) -> set[str] | None:
    services = getattr(request.app.state, "services", None)
    return set(scope_descriptions(services)) if services is not None else None


async def _read_metadata(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise InvalidClientMetadata("Send the client metadata as application/json "
                                    "(RFC 7591 section 3.1).")
    body = await request.body()
    if len(body) > MAX_REGISTRATION_BYTES:
        raise InvalidClientMetadata(f"Client metadata may be at most "
                                    f"{MAX_REGISTRATION_BYTES} bytes.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidClientMetadata("The body is not valid JSON.") from exc


def _new_agent(metadata: ClientMetadata) -> Agent:
    # The publisher it names: unverified for a dynamic client, so only a hint.
    publisher = urlsplit(metadata.client_uri).hostname if metadata.client_uri else None
    agent = Agent(client_id=f"agt_{secrets.token_urlsafe(18)}", registration="dynamic",
                  publisher=publisher or "")
    metadata.apply_to(agent)
    return agent


@router.post("/oauth/register", status_code=201, operation_id="register_client",
             responses=REGISTRATION_RESPONSES, openapi_extra=REGISTRATION_REQUEST)
async def register_client(request: Request, db: SessionDep) -> JSONResponse:
    """Register an OAuth client (RFC 7591); public route."""
    try:
        doc = await _read_metadata(request)
        metadata = validate_metadata(doc, default_auth_method="client_secret_basic",
                                     known_scopes=_known_scopes(request))
    except ClientError as exc:
        return exc.response()
    agent = _new_agent(metadata)
    secret = None
    if metadata.token_endpoint_auth_method in SECRET_METHODS:
        secret, agent.client_secret_hash = new_client_secret()
    db.add(agent)
    await db.flush()

    # RFC 7591 section 3.2.1: the registered metadata, with the identifiers added.
    body: dict[str, Any] = {
        "client_id": agent.client_id,
        "client_id_issued_at": int(agent.created_at.timestamp()),
        **metadata.document,
    }
    if secret is not None:
        body["client_secret"] = secret
        body["client_secret_expires_at"] = 0  # never expires
    return JSONResponse(body, status_code=201,
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
