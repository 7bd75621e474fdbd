"""The services behind the gateway and how to reach each: in-process or over HTTP.

The transport is the only difference between the two deployments: in-process the
gateway calls the service's ASGI app directly; with separate processes it calls
its URL. Either way it speaks HTTP to it and learns its operations from the
service's ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.policy.manifest import Manifest, declared_scopes, operations_from_openapi
from services.common.problems import Problem
from services.common.txn_token import StaticKeys

logger = logging.getLogger("agentgate.services")

# Each service's public entry point (its app factory) for the in-process deployment.
# The gateway imports nothing else from a service.
APP_FACTORIES = {
    "chat": "services.chat.app:create_app",
    "rides": "services.rides.app:create_app",
}


class Service:
    """One service: its client, and (once loaded) its OpenAPI and operation manifest."""

    def __init__(self, name: str, client: httpx.AsyncClient, app: FastAPI | None = None) -> None:
        self.name = name
        self.client = client
        self.app = app
        self.openapi: dict[str, Any] | None = None
        self.manifest = Manifest([])
        self.scopes: dict[str, str] = {}
        self._lock = asyncio.Lock()

    @property
    def in_process(self) -> bool:
        return self.app is not None

    async def load(self) -> None:
        """Fetch the service's OpenAPI and build its manifest (once)."""
        if self.openapi is not None:
            return
        async with self._lock:
            if self.openapi is not None:
                return
            response = await self.client.get("/openapi.json")
            response.raise_for_status()
            doc = response.json()
            self.manifest = Manifest(operations_from_openapi(self.name, doc))
            self.scopes = declared_scopes(doc)
            self.openapi = doc

    async def ensure_loaded(self) -> None:
        try:
            await self.load()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("service %s is not answering: %s", self.name, exc)
            raise Problem(503, "service-unavailable", f"The {self.name} service is not reachable.",
                          headers={"Retry-After": "5"}, service=self.name) from exc


class ServiceRegistry:
    def __init__(self, services: dict[str, Service]) -> None:
        self.services = services
        self._person_scopes: frozenset[str] = frozenset()

    @classmethod
    def build(cls, urls: dict[str, str | None], *, database_url: str, issuer: str,
              keys: StaticKeys, timeout: float) -> ServiceRegistry:
        services = {}
        for name, url in urls.items():
            if url:
                client = httpx.AsyncClient(
                    base_url=url.rstrip("/"), timeout=timeout,
                    limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
                services[name] = Service(name, client)
            else:
                module, _, attr = APP_FACTORIES[name].partition(":")
                factory = getattr(importlib.import_module(module), attr)
                app: FastAPI = factory(database_url=database_url, issuer=issuer, keys=keys)
                # raise_app_exceptions=False: a crash in the service reaches the gateway
                # as the service's own answer (its 500 or 503 problem), as over HTTP.
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                client = httpx.AsyncClient(transport=transport,
                                           base_url=f"http://{name}.internal", timeout=timeout)
                services[name] = Service(name, client, app)
        return cls(services)

    def get(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise Problem(404, "not-found", f"There is no service called {name!r}.",
                          services=sorted(self.services)) from None

    async def load_all(self, *, attempts: int = 1, delay: float = 0.5) -> None:
        """Load every manifest; a service that is still starting is retried, then left lazy."""
        for service in self.services.values():
            for attempt in range(attempts):
                try:
                    await service.load()
                    break
                except (httpx.HTTPError, ValueError):
                    if attempt + 1 < attempts:
                        await asyncio.sleep(delay)
        self._refresh_scopes()

    def _refresh_scopes(self) -> None:
        scopes: set[str] = set()
        for service in self.services.values():
            scopes.update(service.scopes)
        self._person_scopes = frozenset(scopes)

    def person_scopes(self) -> frozenset[str]:
        """Every scope any service declares: what a person holds over their own data."""
        if not self._person_scopes:
            self._refresh_scopes()
        return self._person_scopes

    def all_scopes(self) -> dict[str, str]:
        scopes: dict[str, str] = {}
        for service in self.services.values():
            scopes.update(service.scopes)
        return scopes

    async def aclose(self) -> None:
        for service in self.services.values():
            await service.client.aclose()
            if service.app is not None:
                engine = getattr(service.app.state, "engine", None)
                if engine is not None:
                    await engine.dispose()
