"""Whole-table snapshots: prove a call changed nothing stored by comparing before and after."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from gateway.models import Base as GatewayBase
from services.chat.models import Base as ChatBase
from services.rides.models import Base as RidesBase

Snapshot = dict[str, list[tuple[Any, ...]]]

# What the services store: everything a person can observe of their chat and rides.
SERVICE_TABLES = [t for base in (ChatBase, RidesBase) for t in base.metadata.sorted_tables]
GATEWAY_TABLES = list(GatewayBase.metadata.sorted_tables)


async def snapshot(app: FastAPI, tables: Iterable[sa.Table] = SERVICE_TABLES) -> Snapshot:
    """Every row of ``tables``, sorted, so two snapshots compare equal iff nothing changed."""
    async with app.state.engine.connect() as conn:
        return {t.name: sorted(map(tuple, (await conn.execute(sa.select(t))).all()), key=repr)
                for t in tables}
