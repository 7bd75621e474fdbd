"""Page tests: the gateway app over ASGI, seeded demo data, people signing in through the form.

The client's base URL is https so the session cookie (``Secure``) flows, as in a
browser. Unsafe requests carry the session's CSRF token the way a form does.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import Settings
from seeds.loader import seed
from seeds.people import PEOPLE

BASE_URL = "https://testserver"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form on a page."""
    match = _CSRF_FIELD.search(html)
    assert match, "the page has no form with a csrf_token"
    return match.group(1)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    """The whole gateway (services in-process) on a seeded database, with its lifespan run."""
    await seed(database_url)
    application = create_app(Settings(env="test", database_url=database_url))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client: cookies kept, redirects not followed (tests check them)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL,
                                 headers={"accept": "text/html"}) as http:
        yield http


@pytest.fixture
async def other_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser, for a second person."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL,
                                 headers={"accept": "text/html"}) as http:
        yield http


async def signed_in(client: httpx.AsyncClient, username: str) -> str:
    """Sign ``username`` in through the login form; return their session's CSRF token."""
    form = await client.get("/login")
    response = await client.post("/login", data={
        "username": username, "password": PEOPLE[username].password,
        "csrf_token": csrf_token(form.text), "next": "/chat",
    })
    assert response.status_code == 303, response.text
    page = await client.get("/chat")
    assert page.status_code == 200, page.text
    return csrf_token(page.text)


async def api(client: httpx.AsyncClient, method: str, path: str, csrf: str | None = None,
              **kwargs: Any) -> httpx.Response:
    """Call the gateway's JSON API with the client's session (set-up and checks, not pages)."""
    headers = {"accept": "application/json"}
    if csrf is not None:
        headers["x-csrf-token"] = csrf
    return await client.request(method, path, headers=headers, **kwargs)


async def channel_ids(client: httpx.AsyncClient) -> dict[str, str]:
    """The ids of the channels the signed-in person sees, by title (``design``, ``Bob Chen``)."""
    response = await api(client, "GET", "/api/chat/channels", params={"limit": 200})
    assert response.status_code == 200, response.text
    return {c["title"]: c["id"] for c in response.json()["items"]}
