"""Signing in and out of the web client, and the session as JSON for scripts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from gateway.auth import CurrentPrincipal, OptionalPrincipal, check_csrf
from gateway.db import SessionDep
from gateway.identity.models import User
from gateway.identity.passwords import hash_password, needs_rehash, verify_password
from gateway.identity.sessions import (
    PRELOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    end_session,
    new_token,
    session_key,
    start_session,
    tokens_match,
)
from gateway.identity.throttle import LoginThrottle

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _cookie_args(request: Request) -> dict[str, Any]:
    return {"httponly": True, "secure": request.app.state.settings.cookie_secure,
            "samesite": "lax", "path": "/"}


def _login_page(request: Request, *, error: str | None = None, username: str = "",
                next_url: str = "/", status: int = 200,
                headers: dict[str, str] | None = None) -> HTMLResponse:
    csrf = new_token()
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, "login.html",
        {"csrf_token": csrf, "error": error, "username": username, "next": next_url},
        status_code=status, headers=headers,
    )
    response.set_cookie(PRELOGIN_CSRF_COOKIE, csrf, max_age=3600, **_cookie_args(request))
    return response


@router.get("/login", include_in_schema=False)
async def login_form(request: Request, principal: OptionalPrincipal,
                     next: str | None = None) -> Response:
    """Show the sign-in form."""
    if principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Check the password and start a session."""
    next_url = safe_next(next)
    if not tokens_match(csrf_token, request.cookies.get(PRELOGIN_CSRF_COOKIE)):
        return _login_page(request, error="Your sign-in form expired. Please try again.",
                           username=username, next_url=next_url, status=403)
    settings = request.app.state.settings
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait = await throttle.retry_after(db, username, address)
    if wait is not None:
        return _login_page(request, error=f"Too many failed attempts. Try again in {wait} s.",
                           username=username, next_url=next_url, status=429,
                           headers={"Retry-After": str(wait)})
    user = await db.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        await throttle.record_failure(db, username, address)
        return _login_page(request, error="That username and password don't match.",
                           username=username, next_url=next_url, status=401)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await throttle.clear(db, username)
    token, _csrf = await start_session(
        db, user, ttl=dt.timedelta(seconds=settings.session_ttl_seconds),
        user_agent=request.headers.get("user-agent", ""))
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_ttl_seconds,
                        **_cookie_args(request))
    response.delete_cookie(PRELOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, db: SessionDep, principal: CurrentPrincipal,
                 csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    """End this session."""
    check_csrf(request, principal, csrf_token)
    await end_session(db, request.cookies.get(SESSION_COOKIE))
    # This replica forgets the session at once; others within auth_cache_seconds.
    if (key := session_key(request.cookies.get(SESSION_COOKIE))) is not None:
        request.app.state.session_cache.discard(key)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class SessionUser(BaseModel):
    id: str
    username: str
    display_name: str


class SessionInfo(BaseModel):
    user: SessionUser
    csrf_token: str


@router.get("/auth/session", tags=["people"], operation_id="get_session",
            responses={401: {"description": "Not signed in"}})
async def session_info(principal: CurrentPrincipal) -> SessionInfo:
    """Return the signed-in person and the CSRF token their unsafe API calls must send."""
    return SessionInfo(
        user=SessionUser(id=str(principal.user_id), username=principal.username,
                         display_name=principal.display_name),
        csrf_token=principal.csrf_token or "",
    )
