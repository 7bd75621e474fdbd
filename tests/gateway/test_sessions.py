"""People sign in with a password; sessions are server-side, cookies are locked down."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from gateway.identity.models import WebSession
from tests.support.web import form_csrf, sign_in


async def _count_sessions(app: FastAPI) -> int:
    async with app.state.sessionmaker() as db:
        return int(await db.scalar(select(func.count()).select_from(WebSession)) or 0)


async def test_sign_in_sets_a_locked_down_session_cookie(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    response = await client.post("/login", data={
        "username": "alice", "password": "alice-demo-pw", "csrf_token": form_csrf(page.text)})
    assert response.status_code == 303
    cookie = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("agentgate_session="))
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    me = (await client.get("/auth/session")).json()
    assert me["user"]["username"] == "alice"


async def test_the_database_never_holds_the_cookie_value(client: httpx.AsyncClient,
                                                         gateway_app: FastAPI) -> None:
    await sign_in(client, "alice")
    cookie = client.cookies["agentgate_session"]
    async with gateway_app.state.sessionmaker() as db:
        hashes = list(await db.scalars(select(WebSession.token_hash)))
    assert hashes
    assert cookie not in hashes


async def test_wrong_password_is_refused_without_saying_which_part(
        client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    wrong_pw = await client.post("/login", data={
        "username": "alice", "password": "nope", "csrf_token": form_csrf(page.text)})
    page = await client.get("/login")
    no_user = await client.post("/login", data={
        "username": "mallory", "password": "nope", "csrf_token": form_csrf(page.text)})
    assert wrong_pw.status_code == no_user.status_code == 401
    assert "don&#39;t match" in wrong_pw.text
    assert "agentgate_session" not in client.cookies


async def test_sign_in_without_the_forms_csrf_token_is_refused(
        client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    await client.get("/login")
    response = await client.post("/login", data={
        "username": "alice", "password": "alice-demo-pw", "csrf_token": "forged"})
    assert response.status_code == 403
    assert await _count_sessions(gateway_app) == 0


async def test_repeated_failures_lock_the_account_for_a_while(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        page = await client.get("/login")
        await client.post("/login", data={
            "username": "alice", "password": "guess", "csrf_token": form_csrf(page.text)})
    page = await client.get("/login")
    locked = await client.post("/login", data={
        "username": "alice", "password": "alice-demo-pw", "csrf_token": form_csrf(page.text)})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "agentgate_session" not in client.cookies


async def test_sign_in_redirects_only_within_the_site(client: httpx.AsyncClient) -> None:
    for target, expected in [("/chat", "/chat"), ("https://evil.test/", "/"),
                             ("//evil.test", "/"), ("/\\evil.test", "/")]:
        client.cookies.clear()
        page = await client.get("/login")
        response = await client.post("/login", data={
            "username": "bob", "password": "bob-demo-pw", "next": target,
            "csrf_token": form_csrf(page.text)})
        assert response.headers["location"] == expected


async def test_sign_out_needs_csrf_and_ends_the_session(client: httpx.AsyncClient,
                                                        gateway_app: FastAPI) -> None:
    csrf = await sign_in(client, "alice")
    refused = await client.post("/logout", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert (await client.get("/auth/session")).status_code == 200
    done = await client.post("/logout", data={"csrf_token": csrf})
    assert done.status_code == 303
    assert await _count_sessions(gateway_app) == 0
    assert (await client.get("/auth/session")).status_code == 401


async def test_a_stolen_looking_cookie_is_just_unauthenticated(client: httpx.AsyncClient) -> None:
    client.cookies.set("agentgate_session", "x" * 500)
    response = await client.get("/auth/session")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
