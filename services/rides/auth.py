"""Who may call the rides service, and with which scopes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Security

from services.common.auth import TxnTokenScheme
from services.common.txn_token import TxnContext

SCOPES = {
    "rides:read": "See places, price quotes and your trips",
    "rides:book": "Request and cancel rides for you (each ride is paid under your payment rules)",
}

scheme = TxnTokenScheme(SCOPES)

RidesRead = Annotated[TxnContext, Security(scheme, scopes=["rides:read"])]
RidesBook = Annotated[TxnContext, Security(scheme, scopes=["rides:book"])]
