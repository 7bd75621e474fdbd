"""The tutorial agent's command line: connect, read what is new, book a ride.

Run it against ``make run`` from the repository's root::

    .venv/bin/python -m examples.agent --gateway http://127.0.0.1:8000
    .venv/bin/python -m examples.agent --ride "Gare de Lyon" "Gare du Nord" --book

The first run asks the person with the device flow: open the printed link, sign in
as alice and approve. The agent keeps its client id and tokens in a small state
file (``--state``, default ``.agent-state.json``), so the next run refreshes its
token instead of asking again, and reads only what is new since its last run (its
cursor is kept by the gateway). Each line it prints says which step it is in;
``--http`` also prints every HTTP request and answer. examples/README.md walks
through it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx

from examples.agent import MANDATE, NAME, SCOPE, chat, oauth, rides


def say(step: str, text: str) -> None:
    print(f"[{step}] {text}", flush=True)


def show_http(http: httpx.AsyncClient) -> None:
    """Print each request and its answer's status (the tutorial's ``--http``)."""
    async def request(req: httpx.Request) -> None:
        prefer = f"  (Prefer: {req.headers['prefer']})" if "prefer" in req.headers else ""
        print(f"  -> {req.method} {req.url}{prefer}", flush=True)

    async def response(res: httpx.Response) -> None:
        applied = res.headers.get("preference-applied")
        print(f"  <- {res.status_code}" + (f"  (Preference-Applied: {applied})"
                                           if applied else ""), flush=True)

    http.event_hooks = {"request": [request], "response": [response]}


class State:
    """The agent's memory between runs: its client id and tokens, as JSON on disk."""

    def __init__(self, path: Path, issuer: str) -> None:
        self.path = path
        self.issuer = issuer

    def load(self) -> tuple[str, oauth.Tokens] | None:
        try:
            saved = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if saved.get("issuer") != self.issuer:
            return None  # another gateway's tokens are no use here
        return saved["client_id"], oauth.Tokens(**saved["tokens"])

    def save(self, client_id: str, tokens: oauth.Tokens) -> None:
        self.path.write_text(json.dumps({"issuer": self.issuer, "client_id": client_id,
                                         "tokens": tokens.to_json()}, indent=2))
        self.path.chmod(0o600)  # it holds a refresh token

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


async def connect(http: httpx.AsyncClient, gateway: oauth.Gateway,
                  state: State) -> tuple[str, oauth.Tokens]:
    """Reuse the saved tokens, or register and ask the person with the device flow."""
    saved = state.load()
    if saved is not None:
        client_id, tokens = saved
        say("connect", f"using my saved tokens (client {client_id}); I refresh them as needed")
        return client_id, tokens
    client_id = await oauth.register(http, gateway, name=NAME, scope=SCOPE)
    say("register", f"registered as client {client_id}")
    device = await oauth.start_device_authorization(
        http, gateway, client_id, scope=SCOPE, authorization_details=[MANDATE])
    say("device", f"open {device.verification_uri} and enter the code {device.user_code}")
    say("device", f"or open {device.verification_uri_complete or device.verification_uri}")
    print(f"USER_CODE={device.user_code}", flush=True)  # for scripts and tests
    tokens = await oauth.poll_for_tokens(http, gateway, client_id, device,
                                         say=lambda text: say("token", text))
    say("token", f"approved: scope {tokens.scope!r}, "
                 f"expires in {tokens.expires_at - time.time():.0f} s")
    for detail in tokens.authorization_details:
        say("token", "mandate: " + rides.describe_mandate(detail))
    state.save(client_id, tokens)
    return client_id, tokens


async def read_news(api: httpx.AsyncClient) -> None:
    news = await chat.whats_new(api)
    for line in chat.summarize(news).text():
        say("peek", line)
    moved = await chat.advance_cursors(api, news)
    say("peek", f"moved my own cursor in {moved} channel(s); your unread badges are untouched")


async def ride(api: httpx.AsyncClient, pickup: str, dropoff: str, product: str,
               really: bool) -> int:
    priced = await rides.quote(api, pickup, dropoff, product)
    fare = rides.price(priced["price"]["amount"], priced["price"]["currency"])
    say("quote", f"{priced['pickup']['name']} -> {priced['dropoff']['name']} ({product}): {fare}")
    preview = (await rides.dry_run(api, priced["id"]))["payment_preview"]
    say("dry-run", f"payment_preview: {preview['outcome']}"
                   + (f" ({preview['reason']})" if preview.get("reason") else "")
                   + "; nothing was reserved or charged")
    if not really:
        return 0
    try:
        booked = await rides.book(api, priced["id"], say=lambda text: say("book", text))
        if isinstance(booked, rides.Held):
            say("book", f"held for your approval: {booked.approval.get('url', booked.url)}")
            print(f"APPROVAL={booked.url}", flush=True)  # for scripts and tests
            booked = await rides.wait_for_person(api, booked,
                                                 say=lambda text: say("book", text))
    except rides.PaymentRefused as refused:
        say("book", f"refused ({refused.reason}): {refused.advice()}")
        return 2
    except rides.NotCarriedOut as not_done:
        say("book", str(not_done))
        return 2
    receipt = booked["payment_receipt"]
    paid = rides.price(receipt["amount"], receipt["currency"])
    say("book", f"booked trip {booked['id']}: paid {paid}, receipt {receipt['url']}")
    return 0


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.agent",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--state", type=Path, default=Path(".agent-state.json"),
                        help="where to keep the client id and tokens between runs")
    parser.add_argument("--ride", nargs=2, metavar=("FROM", "TO"),
                        help="quote a ride between two places and dry-run its booking")
    parser.add_argument("--product", default="standard", choices=["standard", "comfort", "xl"])
    parser.add_argument("--book", action="store_true", help="with --ride: book and pay it")
    parser.add_argument("--http", action="store_true", help="print every HTTP exchange")
    args = parser.parse_args(argv)
    base_url = args.gateway.rstrip("/")

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        if args.http:
            show_http(http)
        gateway = await oauth.discover(http, base_url)
        say("discover", f"issuer {gateway.issuer}, API {gateway.resource}")
        state = State(args.state, gateway.issuer)
        try:
            client_id, tokens = await connect(http, gateway, state)
        except oauth.OAuthFailed as failed:
            say("token", f"no token: {failed}")
            return 1

    def saved(new: oauth.Tokens) -> None:
        state.save(client_id, new)
        say("token", "refreshed my access token (and saved the new refresh token)")

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http, \
            httpx.AsyncClient(base_url=base_url, timeout=30,
                              auth=oauth.TokenAuth(http, gateway, client_id, tokens,
                                                   on_refresh=saved)) as api:
        if args.http:
            show_http(http)
            show_http(api)
        probe = await api.get("/api/chat/channels", params={"limit": 1})
        if probe.status_code == 401:
            say("connect", "my access was revoked (or expired): run me again to reconnect")
            state.forget()
            return 1
        await read_news(api)
        if args.ride:
            pickup, dropoff = args.ride
            return await ride(api, pickup, dropoff, args.product, args.book)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
