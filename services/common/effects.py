"""How a service honours the effects mode the gateway chose (``TxnContext.effects``).

Reads check ``ctx.effects == "live"`` before any effect on the person's state (read
position, receipts, presence). Writes run every check and compute their result in
every mode, then :func:`keep_only_if_live` throws the changes away unless live: a
dry-run answers with the would-be result and stores nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.txn_token import TxnContext


async def keep_only_if_live(session: AsyncSession, ctx: TxnContext) -> None:
    """Discard a write's changes unless the call is live (dry-run: validated, then undone).

    Call it after the response body is built: a rollback expires the ORM objects.
    """
    if ctx.effects != "live":
        await session.rollback()
