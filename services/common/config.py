"""Settings a service process reads (AGENTGATE_* environment variables)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/agentgate.db"


class ServiceSettings(BaseSettings):
    """How a service started on its own finds its database and the gateway's keys."""

    model_config = SettingsConfigDict(env_prefix="AGENTGATE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = "http://127.0.0.1:8000"
    # Where the gateway publishes its keys; defaults to {public_url}/.well-known/jwks.json.
    gateway_jwks_url: str | None = None

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def jwks_url(self) -> str:
        return self.gateway_jwks_url or f"{self.issuer}/.well-known/jwks.json"
