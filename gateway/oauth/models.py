"""The authorization server's own records: signing keys, codes, refresh tokens, device codes.

Secrets (codes, refresh tokens, device codes) are stored as SHA-256 hashes only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime, utcnow


class SigningKey(Base):
    """A private signing key. ``purpose`` keeps Txn-Token and access-token keys apart."""

    __tablename__ = "gw_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a newer key takes over; the key stays published until it expires.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class AuthorizationCode(Base):
    """An authorization code (RFC 6749 section 4.1), stored by hash, usable once.

    ``used_at`` is set on first redemption; a second redemption is an attack
    (section 4.1.2), so it also revokes the refresh family the first one started.
    """

    __tablename__ = "gw_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_agents.id", ondelete="CASCADE"),
                                                index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_users.id", ondelete="CASCADE"))
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_grants.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(Text)
    resource: Mapped[str] = mapped_column(String(2048))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    # The refresh family the redemption started, so a replayed code can revoke it.
    family_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class RefreshToken(Base):
    """A refresh token, stored by hash. Each use rotates it (RFC 9700 section 4.14.2).

    Every token rotated from one authorization shares ``family_id``; presenting a
    token that was already rotated revokes the whole family.
    """

    __tablename__ = "gw_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_grants.id", ondelete="CASCADE"),
                                                index=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_agents.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    resource: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Set when it was exchanged for its successor; using it again is reuse.
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class DeviceCode(Base):
    """A pending device authorization (RFC 8628): the agent polls, the person approves."""

    __tablename__ = "gw_device_codes"

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gw_agents.id", ondelete="CASCADE"),
                                                index=True)
    scope: Mapped[str] = mapped_column(Text)
    resource: Mapped[str] = mapped_column(String(2048))
    # RFC 9396 details asked for (a payment mandate), validated; the grant gets them.
    authorization_details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # "pending" | "approved" | "denied" | "used"
    status: Mapped[str] = mapped_column(String(16), default="pending")
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_users.id", ondelete="CASCADE"), default=None)
    grant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("gw_grants.id", ondelete="CASCADE"), default=None)
    interval: Mapped[int] = mapped_column(Integer, default=5)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
