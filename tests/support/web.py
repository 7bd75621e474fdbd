"""Drive the gateway like a browser: sign in through the real login form."""

from __future__ import annotations

import re

import httpx

from seeds.people import PEOPLE

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_csrf(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    assert match, "the page has no csrf_token field"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str | None = None) -> str:
    """Sign in with the login form; return the session's CSRF token (for unsafe API calls)."""
    page = await client.get("/login")
    response = await client.post("/login", data={
        "username": username,
        "password": password if password is not None else PEOPLE[username].password,
        "csrf_token": form_csrf(page.text),
    })
    assert response.status_code == 303, response.text
    session = await client.get("/auth/session")
    assert session.status_code == 200, session.text
    token: str = session.json()["csrf_token"]
    return token
