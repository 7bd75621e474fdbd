"""Signing keys. Generated on first start, published in the JWKS, rotatable."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
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
