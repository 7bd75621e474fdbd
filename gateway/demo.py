"""``agentgate demo``: the agent protocol start to end, in this process, narrated; a smoke test too.

The story, in seven steps: alice connects an agent with scopes and a spending
mandate (device flow); the agent peeks at what is new (her badges don't move);
it replies as "alice via the agent"; it hands a sub-agent a narrower token; it
books a ride within the mandate (and is refused one over its cap); it books one
above the approval threshold, which alice approves; alice revokes it, and its
next call fails. Each step prints what the agent did and what alice sees, and
checks it: the exit code is 0 only if every step behaved as expected.

The agent is the tutorial's (examples/agent): the same functions, talking HTTP,
here over ``httpx.ASGITransport`` to an app built in this process. alice uses the
web client's own routes with a signed-in session (login form, CSRF token), as a
browser would. The database is a fresh SQLite file in a temporary directory,
migrated and seeded, then deleted: the person's own data is never touched. The
payment processor is the simulated one and rate limits count in memory, whatever
the environment says; the gateway's public URL is ``https://agentgate.invalid``
(RFC 2606: it never resolves), so nothing printed can be mistaken for a served
address.

The only waits are the ones the protocol asks for: the device poll's interval and
the approval's Retry-After (5 seconds each), so it runs in well under a minute.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from examples.agent import MANDATE, NAME, SCOPE, chat, oauth, rides
from gateway.config import Settings
from gateway.migrate import upgrade

PUBLIC_URL = "https://agentgate.invalid"
SUB_AGENT = "Tutorial Summariser"
Print = Callable[[str], None]


class DemoFailed(Exception):
    """A step did not behave as expected; the message says which and how."""


def expect(condition: object, failure: str) -> None:
    if not condition:
        raise DemoFailed(failure)


def text_of(page: str) -> str:
    """A page's text as a person reads it: tags dropped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@dataclass
class Narrator:
    out: Print

    def step(self, number: int, title: str) -> None:
        self.out(f"\n{number}. {title}")

    def agent(self, text: str) -> None:
        self.out(f"   agent      {text}")

    def sub_agent(self, text: str) -> None:
        self.out(f"   sub-agent  {text}")

    def alice(self, text: str) -> None:
        self.out(f"   alice      {text}")

    def ok(self, text: str) -> None:
        self.out(f"   ok         {text}")


class Alice:
    """alice in her browser: the login form, then the web client's routes with CSRF."""

    def __init__(self, app: FastAPI) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url=PUBLIC_URL, follow_redirects=False)
        self.csrf = ""

    async def sign_in(self) -> None:
        from seeds.people import PEOPLE

        page = await self.http.get("/login")
        field = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        expect(field, "the login page has no CSRF field")
        assert field is not None
        answer = await self.http.post("/login", data={
            "username": "alice", "password": PEOPLE["alice"].password,
            "csrf_token": field.group(1)})
        expect(answer.status_code == 303, f"alice could not sign in: {answer.status_code}")
        session = await self.http.get("/auth/session")
        self.csrf = session.json()["csrf_token"]

    async def page(self, path: str, **params: str) -> str:
        response = await self.http.get(path, params=params)
        expect(response.status_code == 200, f"alice's {path} answered {response.status_code}")
        return response.text

    async def post_form(self, path: str, **fields: Any) -> httpx.Response:
        return await self.http.post(path, data={"csrf_token": self.csrf, **fields})

    async def badges(self) -> dict[str, int]:
        """Her unread count per channel, as her sidebar shows them."""
        response = await self.http.get("/api/chat/channels")
        expect(response.status_code == 200, f"alice's channel list: {response.status_code}")
        return {c["title"]: c["unread_count"] for c in response.json()["items"]}

    async def spent(self) -> str:
        """The "Spent ... of ..." line under the agent's mandate on her Agents page."""
        found = re.search(r'data-testid="mandate-spent">([^<]+)<', await self.page("/agents"))
        return html.unescape(found.group(1)).strip() if found else "(nothing shown)"


def badge_line(badges: dict[str, int]) -> str:
    unread = {title: count for title, count in badges.items() if count}
    return ", ".join(f"{t} {n}" for t, n in sorted(unread.items())) or "nothing unread"


@asynccontextmanager
async def in_process_gateway(database_url: str) -> AsyncIterator[FastAPI]:
    """The whole system (gateway and services) in this process, on ``database_url``."""
    from gateway.app import create_app
    from seeds.loader import seed

    await seed(database_url)
    # Keyword arguments win over AGENTGATE_* variables: the simulated processor,
    # in-process services and rate-limit counters in memory (never a shared Redis),
    # whatever this shell has configured.
    settings = Settings(env="development", database_url=database_url, public_url=PUBLIC_URL,
                        chat_url=None, rides_url=None, stripe_secret_key=None,
                        stripe_publishable_key=None, stripe_webhook_secret=None,
                        redis_url=None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


class Story:
    """The seven steps, in order; each raises :class:`DemoFailed` if it misbehaves.

    The agent's side is the tutorial's code (examples/agent) over its own HTTP client;
    alice's side is her browser (:class:`Alice`). What one step makes (the agent's
    tokens, #design, the sub-agent's token) the next ones use.
    """

    def __init__(self, app: FastAPI, say: Narrator) -> None:
        self.transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=self.transport, base_url=PUBLIC_URL)
        self.alice = Alice(app)
        self.say = say

    async def run(self) -> None:
        async with self.http, self.alice.http:
            await self.connect()
            async with self.api:
                await self.peek()
                await self.reply()
                await self.hand_on()
                await self.within_mandate()
                await self.above_threshold()
                await self.revoke()

    async def connect(self) -> None:
        say, http, alice = self.say, self.http, self.alice
        say.step(1, "alice connects an agent, with scopes and a spending mandate")
        self.gateway = gateway = await oauth.discover(http, PUBLIC_URL)
        client_id = await oauth.register(http, gateway, name=NAME, scope=SCOPE)
        say.agent(f'registers itself as "{NAME}" (RFC 7591): client {client_id}')
        device = await oauth.start_device_authorization(
            http, gateway, client_id, scope=SCOPE, authorization_details=[MANDATE])
        say.agent(f"asks for {SCOPE}")
        say.agent(f"and a mandate: {rides.describe_mandate(MANDATE)}")
        say.agent(f"shows the code {device.user_code} and the link {device.verification_uri}")
        await alice.sign_in()
        consent = text_of(await alice.page("/device", user_code=device.user_code))
        expect(NAME in consent and "60.00" in consent,
               "the /device page does not name the agent and its mandate")
        say.alice(f"opens /device, enters {device.user_code}, reads what {NAME} asks "
                  "(the mandate in plain words) and approves")
        approved = await alice.post_form("/device", user_code=device.user_code,
                                         decision="approve", scope=SCOPE.split())
        expect(approved.status_code == 200, f"approving the device: {approved.status_code}")
        say.agent(f"polls the token endpoint, waiting the {device.interval} s interval "
                  "it was given (RFC 8628 section 3.5)")
        tokens = await oauth.poll_for_tokens(http, gateway, client_id, device)
        expect(set(tokens.scope.split()) == set(SCOPE.split()),
               f"the token's scope is {tokens.scope!r}")
        expect(tokens.authorization_details, "the token response carries no mandate")
        say.agent(f"gets its token: scope {tokens.scope!r}, the mandate echoed back (RFC 9396)")
        expect(NAME in text_of(await alice.page("/agents")), "her Agents page lacks the agent")
        say.alice(f"sees {NAME} on her Agents page, with what it may do and spend")
        self.auth = oauth.TokenAuth(http, gateway, client_id, tokens)
        self.api = httpx.AsyncClient(transport=self.transport, base_url=PUBLIC_URL,
                                     auth=self.auth)

    async def peek(self) -> None:
        say, api, alice = self.say, self.api, self.alice
        say.step(2, "the agent peeks at what is new; alice's badges don't move")
        before = await alice.badges()
        say.alice(f"has unread: {badge_line(before)}")
        probe = await api.get("/api/chat/channels", params={"limit": 1})
        expect(probe.headers.get("preference-applied") == "peek",
               "the agent's read was not a peek")
        news = await chat.whats_new(api)
        first, *rest = chat.summarize(news).text()
        say.agent(f"reads what is new since its own cursor (its first look: all it may "
                  f"see), in peek mode: {first}")
        for line in rest:
            say.agent(f"  {line}")
        moved = await chat.advance_cursors(api, news)
        say.agent(f"moves its own cursor in {moved} channel(s)")
        again = chat.summarize(await chat.whats_new(api))
        expect(again.messages == 0, "the agent's second look still found news")
        say.agent("looks again: nothing new since its last look")
        after = await alice.badges()
        expect(after == before, f"alice's badges moved: {before} -> {after}")
        say.alice(f"still has unread: {badge_line(after)} (nothing was marked read)")
        design = next((n for n in news if n.title.lstrip("#") == "design"), None)
        expect(design is not None, "alice has no #design channel")
        assert design is not None
        self.design = design

    async def reply(self) -> None:
        say, design = self.say, self.design
        say.step(3, 'the agent replies, shown as "alice via the agent"')
        posted = await chat.reply(self.api, design.id, "Summary for Alice: "
                                  f"{len(design.messages)} new messages in #design.")
        expect((posted.get("via") or {}).get("name") == NAME, "the post names no agent")
        say.agent(f"posts in #design: {posted['text']!r}")
        shown = text_of(await self.alice.page(f"/chat/{design.id}"))
        expect(f"Alice Martin via {NAME}" in shown, "alice's #design shows no 'via'")
        say.alice(f'sees it in #design as "Alice Martin via {NAME}"')

    async def hand_on(self) -> None:
        say, http = self.say, self.http
        say.step(4, "the agent hands a sub-agent a narrower token")
        helper_id = await oauth.register(http, self.gateway, name=SUB_AGENT, scope="chat:read",
                                         grant_types=(oauth.TOKEN_EXCHANGE,))
        narrow = await oauth.exchange_for_sub_agent(
            http, self.gateway, sub_agent_client_id=helper_id,
            parent_token=self.auth.tokens.access_token, scope="chat:read")
        expect(narrow.scope == "chat:read", f"the sub-agent got {narrow.scope!r}")
        say.sub_agent(f'"{SUB_AGENT}" trades the agent\'s token for one with scope '
                      f"{narrow.scope!r} (RFC 8693; act = sub-agent, then agent)")
        self.helper = helper = {"Authorization": f"Bearer {narrow.access_token}"}
        reads = await http.get("/api/chat/channels", headers=helper)
        writes = await http.post(f"/api/chat/channels/{self.design.id}/messages",
                                 headers=helper, json={"text": "hello"})
        books = await http.get("/api/rides/trips", headers=helper)
        expect(reads.status_code == 200, f"the sub-agent can't read: {reads.status_code}")
        expect(writes.status_code == 403 and books.status_code == 403,
               f"the sub-agent was not refused: {writes.status_code}, {books.status_code}")
        say.sub_agent(f"reads channels: {reads.status_code}; posts: {writes.status_code} "
                      f"({writes.json().get('type')}); lists rides: {books.status_code}")
        expect(SUB_AGENT in text_of(await self.alice.page("/agents")),
               "her Agents page lacks the sub-agent")
        say.alice(f"sees {SUB_AGENT} under {NAME} on her Agents page")

    async def within_mandate(self) -> None:
        say, api = self.say, self.api
        say.step(5, "the agent books a ride within its mandate")
        within = await rides.quote(api, "Gare de Lyon", "Gare du Nord")
        fare = rides.price(within["price"]["amount"], within["price"]["currency"])
        preview = (await rides.dry_run(api, within["id"]))["payment_preview"]
        expect(preview["outcome"] == "would_pay", f"the dry-run says {preview}")
        say.agent(f"quotes Gare de Lyon -> Gare du Nord: {fare}; dry-run: "
                  f"{preview['outcome']}, nothing reserved or charged")
        key = rides.new_key()
        trip = await rides.book(api, within["id"], key=key)
        expect(isinstance(trip, dict), "the booking within the mandate was held")
        assert isinstance(trip, dict)
        receipt = trip["payment_receipt"]
        expect(receipt["status"] == "captured", f"the receipt says {receipt['status']}")
        say.agent(f"books it with Idempotency-Key {key}: 201, receipt {receipt['id']} "
                  f"({receipt['status']}, {rides.price(receipt['amount'], receipt['currency'])}"
                  f"{', simulated' if receipt.get('simulated') else ''})")
        again = await rides.book(api, within["id"], key=key)
        expect(isinstance(again, dict) and again["id"] == trip["id"],
               "retrying with the same key booked again")
        say.agent("retries with the same key (as after a timeout): the same trip, not a "
                  "second one")
        try:
            await rides.book(api, (await rides.quote(api, "CDG", "Orly"))["id"])
            raise DemoFailed("a ride over the cap was paid")
        except rides.PaymentRefused as refused:
            expect(refused.reason == "over_per_payment_cap", f"refused: {refused.reason}")
            say.agent(f"tries CDG -> Orly: 402 {refused.reason}; tells alice: "
                      f"{refused.advice()}")
        spent = await self.alice.spent()
        expect(fare in spent, f"alice's Agents page says {spent!r}")
        say.alice(f"sees on her Agents page: {spent}")

    async def above_threshold(self) -> None:
        say, api, alice = self.say, self.api, self.alice
        say.step(6, "a ride above the approval threshold: alice approves it")
        above = await rides.quote(api, "Orly", "Tour Eiffel")
        preview = (await rides.dry_run(api, above["id"]))["payment_preview"]
        expect(preview["outcome"] == "needs_approval", f"the dry-run says {preview}")
        held = await rides.book(api, above["id"])
        expect(isinstance(held, rides.Held), "the booking above the threshold was not held")
        assert isinstance(held, rides.Held)
        say.agent(f"quotes Orly -> Tour Eiffel: {held.approval['price']}; dry-run: "
                  "needs_approval")
        say.agent(f"books it: 202 Accepted, Location {held.url}, Retry-After "
                  f"{held.retry_after:g}")
        path = httpx.URL(held.url).path
        inbox = text_of(await alice.page("/approvals"))
        expect(held.approval["price"] in inbox, "alice's Approvals inbox lacks it")
        say.alice(f"finds it in her Approvals inbox: {held.approval['description']}, "
                  f"{held.approval['price']}, asked by {held.approval['agent']}")
        decided = await alice.post_form(f"{path}/approve")
        expect(decided.status_code == 303, f"approving: {decided.status_code}")
        say.alice("approves it")
        trip = await rides.wait_for_person(api, held)
        receipt = trip["payment_receipt"]
        expect(receipt["amount"] == above["price"]["amount"], "the receipt's amount differs")
        say.agent(f"polls {path} after Retry-After: completed, trip {trip['id']}, paid "
                  f"{rides.price(receipt['amount'], receipt['currency'])}")
        say.alice(f"sees on her Agents page: {await alice.spent()}")

    async def revoke(self) -> None:
        say = self.say
        say.step(7, "alice revokes the agent; its next call fails")
        agents_page = await self.alice.page("/agents")
        grant = re.search(rf'id="grant-([0-9a-f-]{{36}})-name">{re.escape(NAME)}<', agents_page)
        expect(grant, "alice's Agents page has no revoke form for the agent")
        assert grant is not None
        revoked = await self.alice.post_form(f"/agents/{grant.group(1)}/revoke")
        expect(revoked.status_code == 303, f"revoking: {revoked.status_code}")
        say.alice(f"revokes {NAME} on her Agents page")
        denied = await self.api.get("/api/chat/channels")
        expect(denied.status_code == 401, f"the agent's call answered {denied.status_code}")
        expect(self.auth.refresh_error == "invalid_grant",
               f"the refresh answered {self.auth.refresh_error}")
        say.agent(f"calls the chat API: {denied.status_code}; its refresh token: "
                  f"{self.auth.refresh_error}")
        orphan = await self.http.get("/api/chat/channels", headers=self.helper)
        expect(orphan.status_code == 401, f"the sub-agent's call answered {orphan.status_code}")
        say.sub_agent(f"calls the chat API: {orphan.status_code} (its grant was below the "
                      "agent's)")


def run(out: Print = print) -> int:
    """Run the demo; 0 if every step behaved as expected, 1 (with the reason) if not."""
    started = time.monotonic()
    # The app logs what a server would; the narration is the output here.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        return _run(out, started)
    finally:
        root.setLevel(level)


def _run(out: Print, started: float) -> int:
    with tempfile.TemporaryDirectory(prefix="agentgate-demo-") as workdir:
        database_url = f"sqlite+aiosqlite:///{Path(workdir) / 'demo.db'}"
        out("agentgate demo: an agent acting for alice, start to end, in this process.")
        out(f"  database: a fresh SQLite file in {workdir}, migrated and seeded, deleted at "
            "the end; your own data is not touched")
        out(f"  gateway: in-process at {PUBLIC_URL} (no port is opened, nothing leaves this "
            "machine); payments: the simulated processor, alice's demo Visa 4242")
        upgrade(database_url)

        async def main() -> str | None:
            async with in_process_gateway(database_url) as app:
                # Caught inside, so the app shuts down cleanly whatever happened.
                try:
                    await Story(app, Narrator(out)).run()
                except DemoFailed as failed:
                    return str(failed)
                except Exception as error:  # an agent call that raised: still a failure
                    return f"{type(error).__name__}: {error}"
            return None

        failure = asyncio.run(main())
        if failure is not None:
            out(f"\nFAILED: {failure}")
            return 1
    out(f"\nAll 7 steps behaved as expected ({time.monotonic() - started:.0f} s).")
    return 0
