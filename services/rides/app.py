"""The rides service as an ASGI app: in-process under the gateway, or on its own.

Everything the app needs is built in ``create_app``, not in a startup event: the
gateway calls service apps through ``httpx.ASGITransport``, which runs no lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.app import configure_service_app
from services.common.config import ServiceSettings
from services.common.db import make_engine, make_sessionmaker, utcnow
from services.common.txn_token import KeySource, RemoteJWKS
from services.rides.clock import Clock
from services.rides.router import router


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Only cleanup lives here: when a server does run the lifespan, close the pool.
    yield
    await app.state.engine.dispose()


def create_app(*, database_url: str, issuer: str, keys: KeySource,
               clock: Clock | None = None) -> FastAPI:
    """Build the rides app on ``database_url``, trusting Txn-Tokens from ``issuer``."""
    app = FastAPI(
        title="agentgate rides",
        version="1.0.0",
        description="Book rides across Paris: places, price quotes, paid trips.",
        lifespan=_lifespan,
    )
    configure_service_app(app, name="rides", issuer=issuer, keys=keys)
    engine = make_engine(database_url)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.write_sessionmaker = make_sessionmaker(engine, writes=True)
    app.state.clock = clock or utcnow
    app.include_router(router)
    return app


def standalone() -> FastAPI:
    """Build the app from AGENTGATE_* settings, for ``uvicorn ... --factory``."""
    settings = ServiceSettings()
    return create_app(database_url=settings.database_url, issuer=settings.issuer,
                      keys=RemoteJWKS(settings.jwks_url))
