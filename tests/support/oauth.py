"""Driving the authorization server like an agent and its person: consent, code, tokens."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.support.web import form_csrf

ISSUER = "http://127.0.0.1:8000"
API = f"{ISSUER}/api"
_REQUEST_FIELD = re.compile(r'name="request" value="([^"]*)"')
_TICKED_SCOPE = re.compile(r'name="scope" value="([^"]*)" checked')


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636 section 4."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


_CONSTRAINT_INPUT = re.compile(
    r'<input type="(hidden|checkbox)" name="(constraint|(?:offered|limit|value):[^"]*)" '
    r'value="([^"]*)"([^>]*)>')


def constraint_defaults(page: str) -> dict[str, list[str]]:
    """The constraint fields a consent page sends as it is: hidden ones, ticked boxes."""
    fields: dict[str, list[str]] = {}
    for kind, name, value, rest in _CONSTRAINT_INPUT.findall(page):
        if kind == "hidden" or " checked" in rest:
            fields.setdefault(html.unescape(name), []).append(html.unescape(value))
    return fields


def ticked_scopes(page: str) -> list[str]:
    """The scopes a consent page ticks: what a person who changes nothing grants."""
    return [html.unescape(scope) for scope in _TICKED_SCOPE.findall(page)]


@dataclass
class Authorization:
    """An authorization request an agent sends its person's browser to."""

    client_id: str
    redirect_uri: str
    scope: str = "chat:read"
    state: str = "st-123"
    verifier: str = ""
    challenge: str = ""
    method: str | None = "S256"
    resource: str | None = API
    # RFC 9396: the JSON text of the authorization_details parameter, sent as is.
    authorization_details: str | None = None

    def __post_init__(self) -> None:
        if not self.verifier:
            self.verifier, self.challenge = pkce_pair()

    def query(self) -> str:
        params = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": self.redirect_uri, "scope": self.scope, "state": self.state}
        if self.challenge:
            params["code_challenge"] = self.challenge
        if self.method:
            params["code_challenge_method"] = self.method
        if self.resource:
            params["resource"] = self.resource
        if self.authorization_details is not None:
            params["authorization_details"] = self.authorization_details
        return urlencode(params)


async def decide(client: httpx.AsyncClient, auth: Authorization, decision: str = "approve",
                 extra: dict[str, str | list[str]] | None = None) -> httpx.Response:
    """Open the consent page as the signed-in person and approve (or deny) it.

    The form is sent as a browser would, with the boxes as the page ticks them (scopes,
    constraints), unless ``extra`` replaces fields (``{"scope": ["chat:read"]}``: the
    person unticked the rest).
    """
    page = await client.get(f"/oauth/authorize?{auth.query()}")
    assert page.status_code == 200, page.text
    match = _REQUEST_FIELD.search(page.text)
    assert match, "the consent page carries the request"
    data: dict[str, str | list[str]] = {"csrf_token": form_csrf(page.text),
                                        "request": html.unescape(match.group(1)),
                                        "scope": ticked_scopes(page.text),
                                        **constraint_defaults(page.text),
                                        "decision": decision, **(extra or {})}
    return await client.post("/oauth/authorize", data=data)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def approve(client: httpx.AsyncClient, auth: Authorization,
                  extra: dict[str, str | list[str]] | None = None) -> str:
    """Approve on the consent page; return the code the agent receives."""
    params = redirect_params(await decide(client, auth, "approve", extra))
    assert params["state"] == auth.state
    assert params["iss"] == ISSUER
    return params["code"]


async def redeem(client: httpx.AsyncClient, auth: Authorization, code: str,
                 **overrides: str) -> httpx.Response:
    """The agent's token request for ``code`` (a public client: no secret)."""
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": auth.redirect_uri, "client_id": auth.client_id,
            "code_verifier": auth.verifier, **overrides}
    return await client.post("/oauth/token", data={k: v for k, v in data.items() if v != ""})


async def refresh(client: httpx.AsyncClient, client_id: str, token: str,
                  **overrides: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id,
            **overrides}
    return await client.post("/oauth/token", data=data)
