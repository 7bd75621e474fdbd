"""Who may call the chat service, and with which scopes.

``chat:mark_read`` is an *effect* scope: ``chat:read`` lets an agent read, but only
``chat:mark_read`` lets its reads move the person's unread counts, send read
receipts or update "last seen" (the gateway then forwards the call as live).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Security

from services.common.auth import TxnTokenScheme
from services.common.txn_token import TxnContext

SCOPES: dict[str, str] = {
    "chat:read": "Read your channels, messages and threads",
    "chat:write": "Post messages and create or join channels as you",
    "chat:mark_read": (
        "Mark messages as read for you (moves your unread counts and sends read receipts)"
    ),
}

scheme = TxnTokenScheme(SCOPES)

ChatRead = Annotated[TxnContext, Security(scheme, scopes=["chat:read"])]
ChatWrite = Annotated[TxnContext, Security(scheme, scopes=["chat:write"])]
ChatMarkRead = Annotated[TxnContext, Security(scheme, scopes=["chat:mark_read"])]
