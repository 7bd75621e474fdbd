"""People, their web sessions, the agents that act for them, and their grants."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import BigIntPK, UTCDateTime, utcnow


class User(Base):
    """A person. Never an agent: agents are OAuth clients acting *for* a user."""

    __tablename__ = "gw_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSession(Base):
    """A server-side login session. The cookie holds a random token; we store its hash."""

    __tablename__ = "gw_web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_users.id", ondelete="CASCADE"),
                                               index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(255), default="")


class LoginFailure(Base):
    """One failed login, kept for the throttle window (per username and per address)."""

    __tablename__ = "gw_login_failures"
    __table_args__ = (
        Index("ix_gw_login_failures_username_at", "username", "at"),
        Index("ix_gw_login_failures_address_at", "address", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Agent(Base):
    """Software that acts for people: an OAuth client with its own identity.

    An agent is never its person. It registers itself (a Client ID Metadata
    Document, whose HTTPS URL is the ``client_id``; or RFC 7591 dynamic
    registration) or is created by a person (``owner_id``). ``kind`` says how it
    runs: ``native`` (loopback redirects or the device flow), ``web`` (a server
    with an HTTPS redirect) or ``service`` (client credentials only, no person).
    """

    __tablename__ = "gw_agents"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="native")
    # How it came to be known: "metadata_document" | "dynamic" | "owner".
    registration: Mapped[str] = mapped_column(String(24))
    # The person who created it, if a person did; otherwise the publisher it names.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_users.id", ondelete="SET NULL"), default=None, index=True)
    publisher: Mapped[str] = mapped_column(String(200), default="")
    # "none" (public, PKCE) | "private_key_jwt" | "client_secret_basic" | "client_secret_post"
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32), default="none")
    client_secret_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The most it may ever ask for (space-separated); a grant gives a subset.
    scope: Mapped[str] = mapped_column(Text, default="")
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    jwks_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    # The registered (or fetched) client metadata, as the agent sent it.
    client_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Client ID Metadata Documents are cached; refetched after this time.
    metadata_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped (at most once a minute) when a token of this agent is used.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Grant(Base):
    """A person's consent that an agent may act for them, and the limits of it.

    Every token carries its grant's id; revoking the grant (or any grant above it)
    stops every token derived from it. A sub-agent's grant, made by token
    exchange (RFC 8693), points at its parent and is never wider. A grant with no
    agent is a person's own API token.
    """

    __tablename__ = "gw_grants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_users.id", ondelete="CASCADE"),
                                               index=True)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_agents.id", ondelete="CASCADE"), default=None, index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_grants.id", ondelete="CASCADE"), default=None, index=True)
    # Space-separated scopes, e.g. "chat:read chat:write".
    scope: Mapped[str] = mapped_column(Text)
    # Resource constraints, e.g. {"chat:channels": ["<channel id>", ...]}; absent key = no limit.
    constraints: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    # RFC 8707 resources (token audiences) the grant covers.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    # RFC 9396 authorization details (the payment mandate lives here).
    authorization_details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Personal API tokens have a name the person gave them.
    label: Mapped[str] = mapped_column(String(120), default="")
    # Bumped when the person narrows the grant: tokens minted before stop working.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Revocation(Base):
    """One revoked thing, appended and never updated: a grant, a refresh family or a jti.

    Every gateway replica polls this table (at most once a second) into memory, so
    checking a bearer token costs no query and a revocation takes effect everywhere
    within a second. For a grant, ``min_version`` > 0 means "versions below this
    are revoked" (the grant was narrowed) rather than the whole grant.
    """

    __tablename__ = "gw_revocations"
    __table_args__ = (Index("ix_gw_revocations_revoked_at", "revoked_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # "grant" | "family" | "jti"
    value: Mapped[str] = mapped_column(String(64))
    min_version: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # After this no token it could concern is alive any more; the row may be pruned.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
