"""Choose the processor once, at start-up: Stripe when it is configured, else simulated.

The choice lives here so nothing else branches on it: the rest of the payments
feature holds a :class:`~gateway.payments.processor.Processor` and asks
``processor.simulated`` only to label what it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.payments.processor import Processor
from gateway.payments.processors.simulated import SimulatedProcessor
from gateway.payments.processors.stripe import StripeProcessor

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from gateway.config import Settings

__all__ = ["SimulatedProcessor", "StripeProcessor", "make_processor"]


def make_processor(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Processor:
    """Return Stripe when ``AGENTGATE_STRIPE_SECRET_KEY`` is set, else the simulated one."""
    if settings.stripe_secret_key:
        return StripeProcessor.from_settings(settings)
    return SimulatedProcessor(sessionmaker)
