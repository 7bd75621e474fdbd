"""Who is calling the gateway: the principal every stage of the pipeline reasons about."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from services.common.txn_token import Actor


@dataclass(frozen=True)
class Principal:
    """The person a call is for, and the agents (if any) acting for them.

    A person signed in to the web client holds every scope the services declare;
    an agent holds only what its grant gives it. ``actors`` is empty when the
    person calls themself; otherwise it is the RFC 8693 ``act`` chain, the agent
    acting now first.
    """

    user_id: uuid.UUID
    username: str
    display_name: str
    scopes: frozenset[str]
    # How the call arrived: the web client, a bearer token on the REST API, or a
    # bearer token on the MCP endpoint (the activity log says "over MCP").
    via: Literal["session", "token", "mcp"]
    actors: tuple[Actor, ...] = ()
    constraints: dict[str, list[str]] = field(default_factory=dict)
    csrf_token: str | None = None
    # Bearer callers: what their access token said (gateway/oauth/tokens.py).
    grant_id: uuid.UUID | None = None
    client_id: str | None = None
    agent_id: uuid.UUID | None = None
    jti: str | None = None
    token_audience: str | None = None
    # False for an agent acting as itself (client credentials): there is no person's
    # data it may reach, and ``user_id`` is then the agent's id.
    has_person: bool = True

    @property
    def is_person(self) -> bool:
        return not self.actors
