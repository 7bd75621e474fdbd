"""The chat service as an ASGI app.

Nothing here depends on startup events: the gateway calls this app in-process through
``httpx.ASGITransport``, which does not run lifespan, so the engine is made eagerly.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.chat.router import router
from services.chat.visibility import CONSTRAINTS
from services.common.app import configure_service_app
from services.common.config import ServiceSettings
from services.common.db import make_engine, make_sessionmaker
from services.common.openapi import declare_constraints
from services.common.txn_token import KeySource, RemoteJWKS


def create_app(*, database_url: str, issuer: str, keys: KeySource) -> FastAPI:
    """Build the chat service for a database, trusting Txn-Tokens from ``issuer``."""
    app = FastAPI(
        title="agentgate chat",
        version="1.0.0",
        summary="Channels, direct messages, threads, mentions, search and read state.",
    )
    configure_service_app(app, name="chat", issuer=issuer, keys=keys)
    app.state.engine = make_engine(database_url)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.write_sessionmaker = make_sessionmaker(app.state.engine, writes=True)
    app.include_router(router)
    declare_constraints(app, CONSTRAINTS)
    return app


def standalone() -> FastAPI:
    """Build the app from AGENTGATE_* settings.

    Run it with ``uvicorn services.chat.app:standalone --factory``.
    """
    settings = ServiceSettings()
    return create_app(database_url=settings.database_url, issuer=settings.issuer,
                      keys=RemoteJWKS(settings.jwks_url))
