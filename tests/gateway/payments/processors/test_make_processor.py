"""Which processor the gateway uses, and the settings that refuse to half-configure Stripe."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.payments.processors import SimulatedProcessor, StripeProcessor, make_processor
from services.common.db import make_engine, make_sessionmaker

PRODUCTION = {"env": "production", "public_url": "https://gateway.example"}


@pytest.fixture
async def sessionmaker() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine("sqlite+aiosqlite://")
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_without_a_stripe_key_the_gateway_uses_the_simulated_processor(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    processor = make_processor(Settings(env="test"), sessionmaker)

    assert isinstance(processor, SimulatedProcessor)
    assert (processor.name, processor.simulated) == ("simulated", True)


async def test_with_a_stripe_key_the_gateway_uses_stripe(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = Settings(env="test", stripe_secret_key="sk_test_x", stripe_publishable_key="pk_x")

    processor = make_processor(settings, sessionmaker)

    assert isinstance(processor, StripeProcessor)
    assert (processor.name, processor.simulated) == ("stripe", False)
    await processor.aclose()


def test_stripe_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGATE_STRIPE_SECRET_KEY", "sk_test_env")
    monkeypatch.setenv("AGENTGATE_STRIPE_MAX_NETWORK_RETRIES", "0")

    settings = Settings(env="test")

    assert (settings.stripe_secret_key, settings.stripe_max_network_retries) == ("sk_test_env", 0)
    assert (settings.stripe_webhook_secret, settings.stripe_timeout_seconds) == (None, 10.0)


@pytest.mark.parametrize(
    ("missing", "keys"),
    [
        ("WEBHOOK_SECRET", {"stripe_publishable_key": "pk_live_x"}),
        ("PUBLISHABLE_KEY", {"stripe_webhook_secret": "whsec_x"}),
    ],
)
def test_production_refuses_a_stripe_key_without_the_rest(
    missing: str, keys: dict[str, str]
) -> None:
    with pytest.raises(ValidationError, match=f"AGENTGATE_STRIPE_{missing}"):
        Settings(**PRODUCTION, stripe_secret_key="sk_live_x", **keys)


def test_production_accepts_stripe_fully_configured_or_not_at_all() -> None:
    Settings(**PRODUCTION)
    Settings(
        **PRODUCTION,
        stripe_secret_key="sk_live_x",
        stripe_publishable_key="pk_live_x",
        stripe_webhook_secret="whsec_x",
    )
