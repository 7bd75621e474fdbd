"""An example agent: it connects to a person's chat through agentgate, with no browser of its own.

What it does, printing each step:

1. **Discovers** the authorization server (RFC 8414 metadata at
   ``/.well-known/oauth-authorization-server``) and the API it protects (RFC 9728).
2. **Registers** itself (RFC 7591 dynamic client registration) as a public client:
   it has no secret to keep, because it runs on someone's machine.
3. **Asks the person** with the device authorization grant (RFC 8628): it prints a
   short code and a link; the person opens the link in their own browser, signs in,
   sees what the agent asks for and approves it.
4. **Polls** the token endpoint with Authlib's OAuth client until the person has
   decided, respecting ``interval`` and ``slow_down``.
5. **Calls the chat API** with its token. The gateway knows it is this agent acting
   for the person (the token's ``act`` claim), not the person themself.

Run it against ``make run``::

    python examples/device_agent.py --gateway http://127.0.0.1:8000

then open the printed link, sign in as alice (password in the README) and approve.
It uses only Authlib and httpx, which any Python agent would have.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def say(step: str, text: str) -> None:
    print(f"[{step}] {text}", flush=True)


async def discover(http: httpx.AsyncClient, gateway: str) -> tuple[dict[str, Any], str]:
    """Read the authorization server's metadata and the API's resource identifier."""
    metadata = (await http.get(f"{gateway}/.well-known/oauth-authorization-server")).json()
    resource_doc = (await http.get(f"{gateway}/.well-known/oauth-protected-resource/api")).json()
    say("discover", f"issuer {metadata['issuer']}, API {resource_doc['resource']}")
    return metadata, resource_doc["resource"]


async def register(http: httpx.AsyncClient, metadata: dict[str, Any], scope: str) -> str:
    """Register as a public device-flow client (RFC 7591) and return the client_id."""
    response = await http.post(metadata["registration_endpoint"], json={
        "client_name": "Example Device Agent",
        "client_uri": "https://github.com/agentgate/examples",
        "grant_types": [DEVICE_GRANT, "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": scope,
    })
    response.raise_for_status()
    client_id: str = response.json()["client_id"]
    say("register", f"registered as client {client_id}")
    return client_id


async def device_authorization(http: httpx.AsyncClient, metadata: dict[str, Any],
                               client_id: str, scope: str, resource: str) -> dict[str, Any]:
    """Start the device flow (RFC 8628 section 3.1) and tell the person what to do."""
    response = await http.post(metadata["device_authorization_endpoint"], data={
        "client_id": client_id, "scope": scope, "resource": resource})
    response.raise_for_status()
    grant: dict[str, Any] = response.json()
    say("device", f"open {grant['verification_uri']} and enter the code {grant['user_code']}")
    say("device", f"or open {grant.get('verification_uri_complete', grant['verification_uri'])}")
    # One line a script (or a test) can read without parsing prose.
    print(f"USER_CODE={grant['user_code']}", flush=True)
    return grant


async def poll_for_token(client: AsyncOAuth2Client, metadata: dict[str, Any],
                         grant: dict[str, Any], resource: str) -> dict[str, Any]:
    """Poll the token endpoint as RFC 8628 section 3.5 says, until the person decides."""
    interval = int(grant.get("interval", 5))
    deadline = time.monotonic() + int(grant["expires_in"])
    while time.monotonic() < deadline:
        await asyncio.sleep(interval)
        try:
            token: dict[str, Any] = await client.fetch_token(
                metadata["token_endpoint"], grant_type=DEVICE_GRANT,
                device_code=grant["device_code"], resource=resource)
        except OAuthError as error:
            if error.error == "authorization_pending":
                continue
            if error.error == "slow_down":  # section 3.5: add 5 seconds from now on
                interval += 5
                continue
            raise
        say("token", f"approved: scope {token.get('scope')!r}, "
                     f"expires in {token.get('expires_in')} s")
        return token
    raise TimeoutError("the person did not decide before the code expired")


async def read_chat(client: AsyncOAuth2Client, gateway: str) -> None:
    """List the channels the person let us see, and the latest messages of the first one."""
    response = await client.get(f"{gateway}/api/chat/channels")
    if response.status_code != 200:
        say("chat", f"{response.status_code}: {response.text}")
        response.raise_for_status()
    channels = response.json()["items"]
    say("chat", f"I may see {len(channels)} channel(s): "
                + ", ".join(c["title"] for c in channels))
    if not channels:
        return
    first = channels[0]
    response = await client.get(f"{gateway}/api/chat/channels/{first['id']}/messages",
                                params={"limit": 5})
    response.raise_for_status()
    for message in response.json()["items"]:
        say("chat", f"{first['title']} {message['author']['name']}: {message['text']}")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--scope", default="chat:read")
    args = parser.parse_args(argv)
    gateway = args.gateway.rstrip("/")

    async with httpx.AsyncClient(timeout=10) as http:
        metadata, resource = await discover(http, gateway)
        client_id = await register(http, metadata, args.scope)
        grant = await device_authorization(http, metadata, client_id, args.scope, resource)

    async with AsyncOAuth2Client(client_id=client_id, scope=args.scope,
                                 token_endpoint_auth_method="none", timeout=10) as client:
        try:
            await poll_for_token(client, metadata, grant, resource)
        except (OAuthError, TimeoutError) as error:
            say("token", f"no token: {error}")
            return 1
        await read_chat(client, gateway)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
