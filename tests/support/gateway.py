"""The whole system in-process, as the tests run it: one app per settings, one client per app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import Settings


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[FastAPI]:
    """``create_app(settings)`` with its lifespan entered.

    Reconciliation's first pass is over before the caller goes on, so it can't settle
    a half-finished payment a test stores on purpose.
    """
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.reconciled.wait(), timeout=30)
        yield app


def client_of(app: FastAPI) -> httpx.AsyncClient:
    """A browser-like client (https, so Secure cookies flow) for ``app``."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="https://testserver")
