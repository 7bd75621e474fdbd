"""Gateway settings: AGENTGATE_* environment variables, validated at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    """Everything the gateway process can be told. Fails fast on unsafe production values."""

    model_config = SettingsConfigDict(env_prefix="AGENTGATE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    # The URL people and agents use to reach the gateway; the issuer of its tokens.
    public_url: str = "http://127.0.0.1:8000"

    # Where each service lives. Unset: the service app runs in-process (ASGI).
    chat_url: str | None = None
    rides_url: str | None = None

    txn_token_ttl: int = 60
    # How often each replica reloads the signing keys (picks up `agentgate rotate-keys`).
    key_refresh_seconds: float = 60.0
    # How long a replica may trust what it read about a web session or a grant
    # (gateway/cache.py); the same bound as revocation polling.
    auth_cache_seconds: float = 1.0
    access_token_ttl: int = 300
    refresh_token_days: int = 30
    # How stale the in-memory revocation list may be: revocation takes effect within this.
    revocation_poll_seconds: float = 1.0
    max_body_bytes: int = 1_000_000
    upstream_timeout: float = 10.0

    session_ttl_seconds: int = 12 * 3600
    # Secure cookies: browsers also accept them on http://localhost and 127.0.0.1.
    cookie_secure: bool = True
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60

    # Stripe (gateway/payments/processors/stripe.py). Unset secret key: the built-in
    # simulated processor, labelled as such everywhere.
    # The server-side key (sk_live_... / sk_test_...); never leaves this process.
    stripe_secret_key: str | None = None
    # The browser-side key Stripe.js needs to collect a card on the Payments page.
    stripe_publishable_key: str | None = None
    # The signing secret of our webhook endpoint (whsec_...): unsigned events are refused.
    stripe_webhook_secret: str | None = None
    # The SDK's own retries of a timed-out, refused connection or 5xx call; each retry
    # carries the same Idempotency-Key, so it cannot charge twice.
    stripe_max_network_retries: int = 2
    # Per try: a payment blocks a person's or an agent's request while it runs.
    stripe_timeout_seconds: float = 10.0

    # Payments (gateway/payments/): how long a held payment waits for the person, and
    # how often each replica settles payments a crash or timeout left in between.
    approval_ttl_seconds: int = 15 * 60
    reconcile_seconds: float = 60.0

    # Rate limits (gateway/ratelimit/): requests per window for each (person, agent)
    # pair, and for each person calling as themself (web, personal token). 0: no limit.
    rate_limit_agent: int = Field(default=600, ge=0)
    rate_limit_person: int = Field(default=1200, ge=0)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    # Shared rate-limit counters for several gateway processes. Unset: each process
    # counts in its own memory. Unreachable: each process counts alone until it is back.
    redis_url: str | None = None
    redis_key_prefix: str = "agentgate:ratelimit:"
    redis_timeout_seconds: float = Field(default=0.5, gt=0)

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/")

    def service_urls(self) -> dict[str, str | None]:
        return {"chat": self.chat_url, "rides": self.rides_url}

    @model_validator(mode="after")
    def _production_is_strict(self) -> Settings:
        if self.env == "production":
            if not self.cookie_secure:
                raise ValueError("AGENTGATE_COOKIE_SECURE must stay true in production")
            if not self.public_url.startswith("https://"):
                raise ValueError("AGENTGATE_PUBLIC_URL must be https in production")
            # Without its webhook secret the ledger would never settle what Stripe
            # reports later (refunds, late failures); without the publishable key no
            # card can be saved. Refuse to start rather than half-work with real money.
            if self.stripe_secret_key and not self.stripe_webhook_secret:
                raise ValueError("AGENTGATE_STRIPE_WEBHOOK_SECRET is required with a Stripe key")
            if self.stripe_secret_key and not self.stripe_publishable_key:
                raise ValueError("AGENTGATE_STRIPE_PUBLISHABLE_KEY is required with a Stripe key")
        return self
