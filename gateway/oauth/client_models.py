"""Records of client authentication: the client assertions already used.

RFC 7523 section 3 lets the authorization server refuse a JWT whose ``jti`` it
has seen before; RFC 9700 section 2.2.2 (and OpenID Connect Core section 9)
expect it, since an assertion caught in transit could otherwise be replayed
until it expires. Each row lives only until its assertion would have expired.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime


class UsedClientAssertion(Base):
    """One ``jti`` of a ``private_key_jwt`` assertion, by hash of (client_id, jti)."""

    __tablename__ = "gw_used_client_assertions"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # After this the assertion is refused as expired anyway, so the row may go.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
