"""``create_app(settings)``: the whole gateway, and in single-process mode the services too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway import discovery
from gateway.activity.recorder import ActivityRecorder
from gateway.cache import TTLCache
from gateway.config import Settings
from gateway.identity import router as identity
from gateway.identity.throttle import LoginThrottle
from gateway.limits import BodyLimitMiddleware
from gateway.mcp import GatewayMcp
from gateway.oauth import consent
from gateway.oauth import endpoints as oauth_endpoints
from gateway.oauth import registration as oauth_registration
from gateway.oauth import router as oauth
from gateway.oauth.clients import ClientRegistry
from gateway.oauth.errors import install_oauth_errors
from gateway.oauth.keys import KeyStore, keep_keys_fresh
from gateway.oauth.revocations import RevocationCache
from gateway.oauth.server import GatewayAuthorizationServer
from gateway.oauth.tokens import AccessTokens
from gateway.payments import router as payments_router
from gateway.payments.reconcile import keep_reconciling
from gateway.payments.wiring import Payments
from gateway.policy.scopes import scope_descriptions
from gateway.proxy import router as proxy
from gateway.proxy.pipeline import Pipeline
from gateway.proxy.services import ServiceRegistry
from gateway.proxy.txn_token import TxnTokenMinter
from gateway.ratelimit import limiter_from_settings
from gateway.timing import TimingMiddleware
from gateway.web import router as web
from gateway.web.errors import install_html_errors
from gateway.web.templating import STATIC_DIR, make_templates
from services.common.db import is_sqlite, make_engine, make_sessionmaker
from services.common.problems import install_problem_handlers
from services.common.stale_reads import RetryStaleReads
from services.common.text_guard import RejectNulMiddleware
from services.common.txn_token import StaticKeys


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway app. Keys load and service manifests are fetched at start-up."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    txn_keys = KeyStore("txn")
    access_keys = KeyStore("access")
    revocations = RevocationCache(sessionmaker, interval=settings.revocation_poll_seconds)
    # In-process services verify with the keys handed over here; separate processes
    # fetch the same keys from /.well-known/jwks.json.
    service_keys = StaticKeys()
    services = ServiceRegistry.build(
        settings.service_urls(), database_url=settings.database_url, issuer=settings.issuer,
        keys=service_keys, timeout=settings.upstream_timeout)
    # The activity writer has its own connection: a request waiting for its entry to be
    # written (SQLite: group commit before the response) must not need one from the
    # pool the waiting requests hold.
    activity_engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    recorder = ActivityRecorder(make_sessionmaker(activity_engine),
                                background=not is_sqlite(settings.database_url))
    # The ledger has its own connections too: a paid request holds one of the request
    # pool's while the hook runs, and must never wait for another from the same pool
    # (50 concurrent paid calls would otherwise starve each other). Its transactions
    # are short, so a small pool serves many requests.
    payments_engine = make_engine(settings.database_url, pool_size=5, max_overflow=5)
    payments = Payments.build(settings, make_sessionmaker(payments_engine),
                              writer=make_sessionmaker(payments_engine, writes=True))
    limiter = limiter_from_settings(settings)
    mcp = GatewayMcp()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await txn_keys.load(sessionmaker)
        service_keys.update(txn_keys.jwks())
        await access_keys.load(sessionmaker)
        refresher = asyncio.create_task(keep_keys_fresh(
            sessionmaker, [txn_keys, access_keys], every=settings.key_refresh_seconds,
            then=lambda: service_keys.update(txn_keys.jwks())))
        # Separate service processes may still be starting: retry a little, then stay lazy.
        await services.load_all(attempts=10 if any(settings.service_urls().values()) else 1)
        recorder.start()
        # Settles what a crash or a timeout left in between, at start and then regularly.
        app.state.reconciled = asyncio.Event()
        reconciler = asyncio.create_task(keep_reconciling(
            payments.sessionmaker, payments.processor, payments.refunds,
            every=settings.reconcile_seconds, idempotency=payments.idempotency,
            approvals=payments.approvals, beat=app.state.reconciled))
        # The MCP SDK's session manager (stateless: it only runs each request's task).
        async with mcp.run():
            yield
        # Stop the background tasks and wait until they have: one cancelled in the
        # middle of a transaction still has to roll back on its connection, which must
        # happen before the engines below are disposed (or shutdown hangs on it).
        for task in (reconciler, refresher):
            task.cancel()
        await asyncio.gather(reconciler, refresher, return_exceptions=True)
        await payments.aclose()
        await limiter.aclose()
        await payments_engine.dispose()
        await recorder.stop()
        await services.aclose()
        await activity_engine.dispose()
        await engine.dispose()

    app = FastAPI(title="agentgate", version="0.1.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.write_sessionmaker = make_sessionmaker(engine, writes=True)
    app.state.keys = txn_keys
    app.state.services = services
    app.state.access_keys = access_keys
    app.state.revocations = revocations
    app.state.session_cache = TTLCache[str, Any](settings.auth_cache_seconds)
    app.state.grant_cache = TTLCache[Any, Any](settings.auth_cache_seconds)
    app.state.access_tokens = AccessTokens(access_keys, revocations, issuer=settings.issuer,
                                           ttl=settings.access_token_ttl, sessions=sessionmaker)
    app.state.clients = ClientRegistry(settings, scopes=lambda: scope_descriptions(services))
    app.state.oauth = GatewayAuthorizationServer(
        issuer=settings.issuer, clients=app.state.clients, tokens=app.state.access_tokens,
        revocations=revocations, scopes=lambda: scope_descriptions(services),
        service_names=lambda: services.services.keys(),
        refresh_token_days=settings.refresh_token_days)
    app.state.pipeline = Pipeline(
        services, TxnTokenMinter(txn_keys, issuer=settings.issuer, ttl=settings.txn_token_ttl),
        issuer=settings.issuer, activity=recorder, payments=payments.hook,
        idempotency=payments.idempotency, limiter=limiter)
    app.state.limiter = limiter
    app.state.activity = recorder
    app.state.payments = payments
    app.state.login_throttle = LoginThrottle(max_failures=settings.login_max_failures,
                                             window_seconds=settings.login_window_seconds)
    app.state.templates = make_templates()

    install_problem_handlers(app)
    install_html_errors(app)
    install_oauth_errors(app)
    app.include_router(discovery.router)
    app.include_router(identity.router)
    app.include_router(oauth.router)
    app.include_router(oauth_endpoints.router)
    app.include_router(oauth_registration.router)
    app.include_router(consent.router)
    app.include_router(proxy.router)
    app.include_router(payments_router.router)
    app.include_router(web.router)
    app.router.routes.append(mcp.route())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(RetryStaleReads)  # innermost: a retry runs the app, not the guards
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(TimingMiddleware)
    return app


def standalone() -> FastAPI:
    """Entry point for ``uvicorn gateway.app:standalone --factory``."""
    return create_app(Settings())
