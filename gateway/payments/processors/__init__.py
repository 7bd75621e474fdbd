"""The processor the gateway pays through: Stripe when a secret key is set, else simulated."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.payments.processor import Processor
from gateway.payments.processors.simulated import SimulatedProcessor


def make_processor(settings: Settings,
                   sessionmaker: async_sessionmaker[AsyncSession]) -> Processor:
    if settings.stripe_secret_key:
        from gateway.payments.processors.stripe import StripeProcessor

        return StripeProcessor.from_settings(settings)
    return SimulatedProcessor(sessionmaker)
