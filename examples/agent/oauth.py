"""Getting and keeping a token: discovery, registration, the device flow, refresh.

1. **Discover** (RFC 8414 ``/.well-known/oauth-authorization-server``; RFC 9728
   ``/.well-known/oauth-protected-resource/api``): the endpoints, and the resource
   identifier of the API, which the token's audience will be (RFC 8707).
2. **Register** (RFC 7591) as a public client: the agent runs on someone's machine
   and can keep no secret. It registers the scopes it may ever ask for; the person
   still consents to each.
3. **Device authorization** (RFC 8628 section 3.1) with ``scope`` and a spending
   mandate in ``authorization_details`` (RFC 9396 sections 2 and 6): the person opens
   a link on any device, signs in, sees what is asked in plain words and approves.
4. **Poll** the token endpoint (RFC 8628 section 3.4/3.5): wait ``interval`` seconds
   between polls; ``authorization_pending`` means keep waiting; ``slow_down`` adds 5
   seconds to the interval for good; ``access_denied`` and ``expired_token`` end it.
5. **Refresh** (RFC 6749 section 6): access tokens live minutes. :class:`TokenAuth`
   (an httpx auth) refreshes before one expires, and once after a 401; every refresh
   returns a new refresh token (rotation), which must replace the old one at once
   (reusing an old one revokes the whole family).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# Refresh this long before the access token expires, so a call never races its expiry.
REFRESH_MARGIN = 30.0

Sleep = Callable[[float], Awaitable[None]]
Say = Callable[[str], None]


def quiet(_: str) -> None:
    """The default ``say``: print nothing."""


@dataclass(frozen=True)
class Gateway:
    """What discovery says: the authorization server's endpoints and the API's identifier."""

    issuer: str
    token_endpoint: str
    registration_endpoint: str
    device_authorization_endpoint: str
    revocation_endpoint: str | None
    resource: str


async def discover(http: httpx.AsyncClient, base_url: str) -> Gateway:
    """Read the authorization server's metadata and the protected resource's."""
    base_url = base_url.rstrip("/")
    server = await http.get(f"{base_url}/.well-known/oauth-authorization-server")
    server.raise_for_status()
    api = await http.get(f"{base_url}/.well-known/oauth-protected-resource/api")
    api.raise_for_status()
    metadata = server.json()
    return Gateway(issuer=metadata["issuer"], token_endpoint=metadata["token_endpoint"],
                   registration_endpoint=metadata["registration_endpoint"],
                   device_authorization_endpoint=metadata["device_authorization_endpoint"],
                   revocation_endpoint=metadata.get("revocation_endpoint"),
                   resource=api.json()["resource"])


async def register(http: httpx.AsyncClient, gateway: Gateway, *, name: str, scope: str,
                   grant_types: tuple[str, ...] = (DEVICE_GRANT, "refresh_token")) -> str:
    """Register as a public client (RFC 7591 section 3.1); return the ``client_id``."""
    response = await http.post(gateway.registration_endpoint, json={
        "client_name": name,
        "client_uri": "https://github.com/agentgate/examples",
        "grant_types": list(grant_types),
        "token_endpoint_auth_method": "none",
        "scope": scope,
    })
    response.raise_for_status()
    client_id: str = response.json()["client_id"]
    return client_id


@dataclass(frozen=True)
class DeviceAuthorization:
    """RFC 8628 section 3.2: the secret ``device_code`` stays with the agent."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


async def start_device_authorization(
        http: httpx.AsyncClient, gateway: Gateway, client_id: str, *, scope: str,
        authorization_details: list[dict[str, Any]] | None = None) -> DeviceAuthorization:
    """Ask for a device code and a user code (RFC 8628 section 3.1)."""
    form = {"client_id": client_id, "scope": scope, "resource": gateway.resource}
    if authorization_details:
        form["authorization_details"] = json.dumps(authorization_details)
    response = await http.post(gateway.device_authorization_endpoint, data=form)
    if response.status_code != 200:
        raise OAuthFailed.of(response)
    body = response.json()
    return DeviceAuthorization(
        device_code=body["device_code"], user_code=body["user_code"],
        verification_uri=body["verification_uri"],
        verification_uri_complete=body.get("verification_uri_complete"),
        expires_in=int(body["expires_in"]), interval=int(body.get("interval", 5)))


class OAuthFailed(Exception):
    """The authorization server said no: ``error`` is the RFC 6749 section 5.2 code."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description

    @classmethod
    def of(cls, response: httpx.Response) -> OAuthFailed:
        try:
            body = response.json()
        except ValueError:
            return cls("http_error", f"{response.status_code} {response.text[:200]}")
        return cls(str(body.get("error", response.status_code)),
                   str(body.get("error_description", "")))


@dataclass
class Tokens:
    """What the token endpoint gave: kept in memory and in the agent's state file."""

    access_token: str
    expires_at: float  # seconds since the epoch
    scope: str
    refresh_token: str | None = None
    authorization_details: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, body: dict[str, Any], *, previous: Tokens | None = None) -> Tokens:
        # RFC 6749 section 6: a refresh response may omit what did not change.
        return cls(access_token=body["access_token"],
                   expires_at=time.time() + float(body.get("expires_in", 300)),
                   scope=body.get("scope") or (previous.scope if previous else ""),
                   refresh_token=body.get("refresh_token")
                   or (previous.refresh_token if previous else None),
                   authorization_details=body.get("authorization_details")
                   or (previous.authorization_details if previous else []))

    def expiring(self, margin: float = REFRESH_MARGIN) -> bool:
        return time.time() > self.expires_at - margin

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def poll_for_tokens(http: httpx.AsyncClient, gateway: Gateway, client_id: str,
                          device: DeviceAuthorization, *, sleep: Sleep = asyncio.sleep,
                          say: Say = quiet) -> Tokens:
    """Poll the token endpoint until the person decides (RFC 8628 section 3.4/3.5).

    Raises :class:`OAuthFailed` with ``access_denied`` or ``expired_token``.
    """
    interval = device.interval
    waited = 0.0
    while True:
        # Section 3.5: wait at least ``interval`` seconds between polls. The first poll
        # waits too: nobody types a code in less time than that.
        await sleep(interval)
        waited += interval
        response = await http.post(gateway.token_endpoint, data={
            "grant_type": DEVICE_GRANT, "device_code": device.device_code,
            "client_id": client_id, "resource": gateway.resource})
        if response.status_code == 200:
            return Tokens.of(response.json())
        failed = OAuthFailed.of(response)
        if failed.error == "authorization_pending":
            say(f"still waiting for the person (polling every {interval} s)")
        elif failed.error == "slow_down":
            interval += 5  # for this poll and every later one
            say(f"the server asked to slow down: polling every {interval} s now")
        else:
            raise failed  # access_denied, expired_token, invalid_grant...
        if waited >= device.expires_in:
            # The server says expired_token once the code is past its life; this guards
            # against a server that never does.
            raise OAuthFailed("expired_token", "the code expired before the person decided")


class TokenAuth(httpx.Auth):
    """Bearer authentication that refreshes: before expiry, and once after a 401.

    The refresh is sent with ``http`` (the agent's client without this auth), one at a
    time: two calls that both find the token expiring must not both spend the same
    refresh token, because presenting a used one again revokes the whole family.
    ``on_refresh`` is told about every new pair of tokens (the agent saves them: the
    old refresh token is spent).
    """

    def __init__(self, http: httpx.AsyncClient, gateway: Gateway, client_id: str,
                 tokens: Tokens, *, on_refresh: Callable[[Tokens], None] | None = None) -> None:
        self.http = http
        self.gateway = gateway
        self.client_id = client_id
        self.tokens = tokens
        self.on_refresh = on_refresh
        # The last refresh error, e.g. "invalid_grant" once the person revoked the agent.
        self.refresh_error: str | None = None
        self._lock = asyncio.Lock()

    async def async_auth_flow(
            self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.tokens.expiring():
            await self.refresh(self.tokens)
        used = self.tokens
        request.headers["Authorization"] = f"Bearer {used.access_token}"
        response = yield request
        # Revoked, or expired in flight: one refresh, one retry. If the refresh is
        # refused too, the caller gets this 401.
        if response.status_code == 401 and await self.refresh(used):
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"
            yield request

    async def refresh(self, stale: Tokens) -> bool:
        """Swap ``stale`` for new tokens (RFC 6749 section 6); False if refused or unable."""
        async with self._lock:
            if self.tokens is not stale:
                return True  # another call refreshed while this one waited
            if not stale.refresh_token:
                return False
            response = await self.http.post(self.gateway.token_endpoint, data={
                "grant_type": "refresh_token", "refresh_token": stale.refresh_token,
                "client_id": self.client_id})
            if response.status_code != 200:
                self.refresh_error = OAuthFailed.of(response).error
                return False
            self.refresh_error = None
            self.tokens = Tokens.of(response.json(), previous=stale)
            if self.on_refresh is not None:
                self.on_refresh(self.tokens)
            return True


async def exchange_for_sub_agent(http: httpx.AsyncClient, gateway: Gateway, *,
                                 sub_agent_client_id: str, parent_token: str,
                                 scope: str) -> Tokens:
    """The sub-agent trades its parent's token for a narrower one (RFC 8693 section 2.1).

    The sub-agent is the client: it authenticates as itself (a public client sends its
    ``client_id``), so it becomes the actor and the token's ``act`` claim nests the
    parent under it. It can only ask for less than the parent holds.
    """
    response = await http.post(gateway.token_endpoint, data={
        "grant_type": TOKEN_EXCHANGE, "client_id": sub_agent_client_id,
        "subject_token": parent_token, "subject_token_type": ACCESS_TOKEN_TYPE,
        "scope": scope})
    if response.status_code != 200:
        raise OAuthFailed.of(response)
    return Tokens.of(response.json())
