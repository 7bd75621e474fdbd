"""People and their web sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime, utcnow


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
