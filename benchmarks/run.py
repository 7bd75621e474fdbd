"""What the gateway costs: the same call made directly on a service and through the gateway.

``make bench`` (or ``python -m benchmarks.run``) serves the system as separate
processes, as docker-compose does: the chat service in its own uvicorn process and
the gateway in front of it, forwarding over HTTP. A second gateway process runs the
chat app in-process, the single-process deployment. On a fresh seeded SQLite file,
``wrk`` then drives each scenario with the same duration and connections, one after
the other in one run, and the result is printed and written to benchmarks/results.md.

A scenario is one row: a name, a URL and the headers (and, for writes, a method and
a body) that make the call. New paths (an agent's token, a peek read, an MCP call)
are new rows in :func:`scenarios`. A row that can't repeat one request (a paid
booking: one quote, one Idempotency-Key each) gives a list of calls instead
(benchmarks/payments.py), and is compared with its own direct row. After the
rows, the overspend check sends paid bookings at once against a budget that
covers only some of them, and counts the rounds that spent more than it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from benchmarks.payments import (
    PAY_SCOPE,
    Call,
    CallFactory,
    OverspendRound,
    calls_script,
    give_mandate,
    grant_of,
    make_quotes,
    mandate,
    overspend_round,
    save_card,
)
from tests.support.processes import (
    ROOT,
    SESSION_COOKIE,
    ServerProcess,
    agentgate_command,
    free_port,
    login_cookie,
    run_command,
    uvicorn_command,
)

RUN_DIR = ROOT / "benchmarks" / ".run"
RESULTS = ROOT / "benchmarks" / "results.md"
# The rate limits stay on (every call still runs the limits stage, counting in memory:
# there is no Redis here) with quotas no row can reach: wrk sends thousands of calls
# a minute with one person's cookie and one agent's token.
UNREACHABLE_QUOTA = 10**9
TARGET_RATIO = 0.70  # through the gateway, at least this share of the direct throughput
PERSON = "alice"
CHANNEL = "design"
MESSAGES_LIMIT = 50
# The overspend check: this many paid bookings at once against a budget for COVERED.
CONCURRENT, COVERED, ROUNDS = 50, 10, 5
BOOKING_CONNECTIONS = 1

# wrk runs this with each scenario: the request to repeat, and a JSON line at the end.
WRK_SCRIPT = """\
wrk.method = {method}
wrk.body = {body}
wrk.headers = {headers}

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


@dataclass(frozen=True)
class Scenario:
    """One row of the table: a call to repeat."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: str | None = None
    baseline: bool = False  # the row the others are compared with
    # A row that can't repeat one request: makes n fresh calls (body, headers) per wrk run.
    calls: CallFactory | None = None
    max_rate: int = 0  # requests/s the calls are sized for (n = max_rate * seconds)
    compare_with: str | None = None  # the name of its direct row, if not the baseline
    connections: int | None = None  # fewer than the load's, for this row only


@dataclass(frozen=True)
class Load:
    duration: int
    connections: int
    threads: int
    warmup: int


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def lua_string(value: str | None) -> str:
    return "nil" if value is None else json.dumps(value)  # JSON strings are valid Lua strings


def wrk_script(scenario: Scenario) -> str:
    headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in
                        scenario.headers.items())
    return WRK_SCRIPT.format(method=lua_string(scenario.method), body=lua_string(scenario.body),
                             headers="{" + headers + "}")


def run_wrk(scenario: Scenario, load: Load, workdir: Path, *, seconds: int) -> Result:
    """Drive one scenario with wrk for ``seconds`` and parse its RESULT line."""
    script = workdir / f"{uuid.uuid4().hex[:8]}.lua"
    connections = min(scenario.connections or load.connections, load.connections)
    threads = min(load.threads, connections)
    if scenario.calls is not None:
        calls = scenario.calls(scenario.max_rate * seconds + connections)
        script.write_text(calls_script(scenario.method, calls, threads))
    else:
        script.write_text(wrk_script(scenario))
    argv = ["wrk", "--threads", str(threads), "--connections", str(connections),
            "--duration", f"{seconds}s", "--timeout", "10s", "--script", str(script),
            scenario.url]
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed on {scenario.name} ({done.returncode}):\n"
                         f"{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("RESULT "))
    return Result(scenario=scenario, requests=data["requests"],
                  seconds=data["duration_us"] / 1e6, non_2xx=data["non_2xx"],
                  socket_errors=data["socket_errors"], p50_ms=data["p50_us"] / 1000,
                  p99_ms=data["p99_us"] / 1000)


# --- the system under test --------------------------------------------------------------


@dataclass(frozen=True)
class System:
    gateway: str  # forwards to the chat and rides processes over HTTP
    gateway_inprocess: str | None  # runs the chat and rides apps inside the gateway process
    chat: str
    rides: str
    database_url: str
    issuer: str


@contextmanager
def serve(workdir: Path, *, inprocess: bool) -> Iterator[System]:
    """Seed a fresh SQLite file and start chat, rides, the gateway, and optionally a second one."""
    database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    base_env = {"AGENTGATE_ENV": "development", "AGENTGATE_DATABASE_URL": database_url,
                "AGENTGATE_RATE_LIMIT_AGENT": str(UNREACHABLE_QUOTA),
                "AGENTGATE_RATE_LIMIT_PERSON": str(UNREACHABLE_QUOTA)}
    print(f"seeding {database_url}")
    run_command(agentgate_command("seed"), env=base_env)

    chat_port, rides_port = free_port(), free_port()
    gateway_port, inprocess_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    # Both gateways share the database, so the signing keys and the issuer: one is enough.
    env = {**base_env, "AGENTGATE_PUBLIC_URL": gateway_url,
           "AGENTGATE_GATEWAY_JWKS_URL": f"{gateway_url}/.well-known/jwks.json"}
    chat = ServerProcess(
        "chat", uvicorn_command("services.chat.app:standalone", chat_port, access_log=False,
                                log_level="warning"),
        port=chat_port, env=env, log_path=workdir / "chat.log")
    rides = ServerProcess(
        "rides", uvicorn_command("services.rides.app:standalone", rides_port, access_log=False,
                                 log_level="warning"),
        port=rides_port, env=env, log_path=workdir / "rides.log")
    gateway = ServerProcess(
        "gateway", agentgate_command("serve", "--port", str(gateway_port)), port=gateway_port,
        env={**env, "AGENTGATE_CHAT_URL": chat.url, "AGENTGATE_RIDES_URL": rides.url},
        log_path=workdir / "gateway.log")
    with ExitStack() as stack:
        stack.enter_context(chat).wait_ready("/openapi.json")
        stack.enter_context(rides).wait_ready("/openapi.json")
        # The gateway first creates the signing keys; the second gateway then loads them.
        stack.enter_context(gateway).wait_ready("/.well-known/jwks.json")
        inprocess_url = None
        if inprocess:
            second = ServerProcess(
                "gateway-inprocess", agentgate_command("serve", "--port", str(inprocess_port)),
                port=inprocess_port, env=env, log_path=workdir / "gateway-inprocess.log")
            stack.enter_context(second).wait_ready("/.well-known/jwks.json")
            inprocess_url = second.url
        yield System(gateway=gateway.url, gateway_inprocess=inprocess_url, chat=chat.url,
                     rides=rides.url, database_url=database_url, issuer=gateway_url)


async def mint_txn_tokens(system: System, user: dict[str, Any], scopes: frozenset[str],
                          ttl: int, *, audience: str = "chat",
                          payments: Sequence[dict[str, Any] | None] = (None,)) -> list[str]:
    """Sign Txn-Tokens for a service with the gateway's own key, as the gateway would.

    One token per entry of ``payments``: the payment it carries (None: no payment).
    """
    from gateway.oauth.keys import KeyStore
    from gateway.proxy.txn_token import TxnTokenMinter
    from services.common.db import make_engine, make_sessionmaker
    from services.common.txn_token import TxnContext

    engine = make_engine(system.database_url)
    try:
        keys = KeyStore("txn")
        await keys.load(make_sessionmaker(engine))
    finally:
        await engine.dispose()
    minter = TxnTokenMinter(keys, issuer=system.issuer, ttl=ttl)
    name = user.get("display_name") or user.get("name") or user["username"]
    return [minter.mint(TxnContext(txn=uuid.uuid4().hex, sub=str(user["id"]),
                                   username=user["username"], name=name, scopes=scopes,
                                   effects="live", payment=payment), audience)
            for payment in payments]


def agent_token(system: System, cookie: str, scope: str = "chat:read", *,
                resource: str = "api") -> str:
    """Connect an agent the way a real one does, and return its access token.

    It registers (RFC 7591), the person approves it on the consent page (PKCE,
    RFC 8707 resource: ``api`` for the REST API, ``mcp`` for the MCP endpoint), and
    it redeems the code: the token the gateway then checks on every call of the
    agent-token and MCP rows.
    """
    from tests.support.oauth import pkce_pair, ticked_scopes
    from tests.support.web import form_csrf

    redirect_uri = "http://127.0.0.1:9/callback"
    with httpx.Client(base_url=system.gateway, timeout=10.0) as http:
        client_id = http.post("/oauth/register", json={
            "client_name": "Bench Agent", "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none", "scope": scope}).json()["client_id"]
        verifier, challenge = pkce_pair()
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                 "scope": scope, "state": "bench", "code_challenge": challenge,
                 "code_challenge_method": "S256", "resource": f"{system.issuer}/{resource}"}
        http.cookies.set(SESSION_COOKIE, cookie)
        page = http.get("/oauth/authorize", params=query)
        field = re.search(r'name="request" value="([^"]*)"', page.text)
        if page.status_code != 200 or field is None:
            raise SystemExit(f"consent page answered {page.status_code}: {page.text[:500]}")
        decision = http.post("/oauth/authorize", data={
            "csrf_token": form_csrf(page.text), "request": html.unescape(field.group(1)),
            "scope": ticked_scopes(page.text), "decision": "approve"})
        location = urlsplit(decision.headers.get("location", ""))
        code = parse_qs(location.query).get("code", [""])[0]
        http.cookies.clear()
        token = check(http.post("/oauth/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": client_id, "code_verifier": verifier}))
    access_token: str = token["access_token"]
    return access_token


def scenarios(system: System, load: Load) -> list[Scenario]:
    """The rows: one chat read, made directly and through each kind of gateway."""
    from gateway.policy.manifest import declared_scopes

    cookie, _csrf = login_cookie(system.gateway, PERSON, f"{PERSON}-demo-pw")
    person = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    with httpx.Client(base_url=system.gateway, headers=person, timeout=10.0) as client:
        user = check(client.get("/auth/session"))["user"]
        channels = check(client.get("/api/chat/channels"))["items"]
        channel = next((c for c in channels if c.get("name") == CHANNEL), None)
        if channel is None:
            raise SystemExit(f"no #{CHANNEL} among {PERSON}'s channels: {channels}")
    path = f"/channels/{channel['id']}/messages?limit={MESSAGES_LIMIT}"

    # The person's scopes for chat: everything the chat service declares (as the gateway does).
    chat_scopes = frozenset(declared_scopes(check(httpx.get(system.chat + "/openapi.json"))))
    ttl = load.warmup + load.duration + 300
    [token] = asyncio.run(mint_txn_tokens(system, user, chat_scopes, ttl))

    rows = [
        Scenario("chat read, direct (Txn-Token)", system.chat + path,
                 {"Txn-Token": token}, baseline=True),
        Scenario("chat read, via gateway (chat over HTTP)",
                 system.gateway + "/api/chat" + path, person),
        # An agent's token: signature and claims checked, revocation cache consulted,
        # scopes enforced; no database query on the gateway's side. An agent's read is a
        # peek (gateway/effects/mode.py): chat skips the read-position and presence writes.
        Scenario("chat read, via gateway, agent token, peek (chat over HTTP)",
                 system.gateway + "/api/chat" + path,
                 {"Authorization": f"Bearer {agent_token(system, cookie)}"}),
    ]
    # The same read as an MCP tool call (gateway/mcp): JSON-RPC in, the tool's input
    # turned into the same request, the same pipeline, the answer as a tool result.
    # Stateless: no initialize, no session id; every call stands alone.
    mcp_call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "chat_list_messages",
        "arguments": {"channel_id": channel["id"], "limit": MESSAGES_LIMIT}}}
    rows.append(Scenario(
        MCP_READ, system.gateway + "/mcp",
        {"Authorization": f"Bearer {agent_token(system, cookie, resource='mcp')}",
         "Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
        method="POST", body=json.dumps(mcp_call)))
    if system.gateway_inprocess:
        # The session cookie works on both gateways: they share the database.
        rows.append(Scenario("chat read, via gateway (chat in-process)",
                             system.gateway_inprocess + "/api/chat" + path, person))
    return rows + booking_scenarios(system, cookie, user, ttl)


MCP_READ = "chat read, via gateway, MCP tool call, peek (chat over HTTP)"
DIRECT_BOOKING = "paid booking, direct on rides (Txn-Token with the payment)"
PAID_BOOKING = ("paid booking through the simulated processor "
                "(agent, mandate, Idempotency-Key; rides over HTTP)")


def booking_scenarios(system: System, cookie: str, user: dict[str, Any],
                      ttl: int) -> list[Scenario]:
    """Booking a quoted ride: on the service with the payment made, and paid by the gateway."""
    rider = str(user["id"])
    rides_scopes = frozenset({"rides:read", "rides:book"})

    def direct(n: int) -> list[Call]:
        quotes = asyncio.run(make_quotes(system.database_url, rider, n))
        payments = [{"id": f"bench-{uuid.uuid4().hex}", "amount": amount, "currency": "EUR",
                     "reference": reference} for _, amount, reference in quotes]
        tokens = asyncio.run(mint_txn_tokens(system, user, rides_scopes, ttl, audience="rides",
                                             payments=payments))
        return [Call(json.dumps({"quote_id": quote_id}),
                     {"Content-Type": "application/json", "Txn-Token": token})
                for (quote_id, _, _), token in zip(quotes, tokens, strict=True)]

    # The person's saved card, and an agent whose mandate covers every booking of the row.
    asyncio.run(save_card(system.database_url, uuid.UUID(rider)))
    token = agent_token(system, cookie, PAY_SCOPE)
    asyncio.run(give_mandate(system.database_url, grant_of(token),
                             mandate(max_per_payment=10_000, budget=10_000_000)))

    def paid(n: int) -> list[Call]:
        quotes = asyncio.run(make_quotes(system.database_url, rider, n))
        return [Call(json.dumps({"quote_id": quote_id}),
                     {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                      "Idempotency-Key": f'"{uuid.uuid4()}"'})
                for quote_id, _, _ in quotes]

    return [
        # One connection each: one agent booking for one person, call after call. More at
        # once make the rides process's read-then-write transactions on the shared SQLite
        # file fail with "database is locked" (see the overspend check's report).
        Scenario(DIRECT_BOOKING, system.rides + "/trips", method="POST", calls=direct,
                 max_rate=400, connections=BOOKING_CONNECTIONS),
        Scenario(PAID_BOOKING, system.gateway + "/api/rides/trips", method="POST", calls=paid,
                 max_rate=150, compare_with=DIRECT_BOOKING, connections=BOOKING_CONNECTIONS),
    ]


def overspend_check(system: System, *, rounds: int = ROUNDS, concurrent: int = CONCURRENT,
                    covered: int = COVERED) -> list[OverspendRound]:
    """Paid bookings at once against a budget for some of them, each round a new agent."""
    cookie, _csrf = login_cookie(system.gateway, PERSON, f"{PERSON}-demo-pw")
    with httpx.Client(base_url=system.gateway, timeout=10.0,
                      cookies={SESSION_COOKIE: cookie}) as client:
        rider = str(check(client.get("/auth/session"))["user"]["id"])
    results = []
    for number in range(1, rounds + 1):
        token = agent_token(system, cookie, PAY_SCOPE)
        result = asyncio.run(overspend_round(system.gateway, system.database_url, rider, token,
                                             concurrent=concurrent, covered=covered))
        print(f"overspend check, round {number}: {describe_round(result)}", flush=True)
        results.append(result)
    return results


def check(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.method} {response.request.url} answered "
                         f"{response.status_code}: {response.text[:1000]}")
    return response.json()


def first_call(scenario: Scenario) -> None:
    """Make the call once and insist on a 2xx (the first read also marks the channel read)."""
    if scenario.calls is not None:
        [call] = scenario.calls(1)
        response = httpx.request(scenario.method, scenario.url, headers=call.headers,
                                 content=call.body, timeout=30.0)
    else:
        response = httpx.request(scenario.method, scenario.url, headers=scenario.headers,
                                 content=scenario.body, timeout=10.0)
    if not response.is_success:
        check(response)
    if scenario.name == MCP_READ:
        answer = response.json()
        if "result" not in answer or answer["result"].get("isError"):
            raise SystemExit(f"the MCP tool call failed: {response.text[:1000]}")


# --- the report -------------------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                                 check=False).stdout.splitlines()
    return {
        "cores (nproc)": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "wrk": wrk_version[0].split(" [")[0].removeprefix("wrk ") if wrk_version else "unknown",
        # Other work on the machine skews every row alike, but it lowers them all.
        "load average before the run": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def direct_of(result: Result, results: Sequence[Result]) -> Result:
    """The row ``result`` is compared with: its own direct row, else the baseline."""
    named = result.scenario.compare_with
    if named is not None:
        return next(r for r in results if r.scenario.name == named)
    return next((r for r in results if r.scenario.baseline), results[0])


def table(results: Sequence[Result], overspends: Sequence[OverspendRound] = ()) -> list[str]:
    lines = ["| scenario | requests/s | p50 ms | p99 ms | vs direct | errors | overspends |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        base = direct_of(r, results)
        ratio = r.rps / base.rps if base.rps else 0.0
        spent = ""
        if r.scenario.name == PAID_BOOKING and overspends:
            spent = str(sum(1 for o in overspends if o.overspent))
        lines.append(f"| {r.scenario.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
                     f"| {ratio:.0%} | {r.non_2xx + r.socket_errors} | {spent} |")
    return lines


def describe_round(o: OverspendRound) -> str:
    other = ", ".join(f"{count} x {status}" for status, count in o.other.items())
    return (f"{o.paid} paid, {o.refused} refused (budget_exhausted)"
            + (f", {other}" if other else "")
            + f"; captured {o.captured / 100:.2f} of {o.budget / 100:.2f} EUR"
            + (" OVERSPENT" if o.overspent else ""))


def overspend_summary(overspends: Sequence[OverspendRound], concurrent: int,
                      covered: int) -> str:
    if not overspends:
        return "Overspend check: not run."
    overspent = sum(1 for o in overspends if o.overspent)
    rounds = "\n".join(f"{n}. {describe_round(o)}" for n, o in enumerate(overspends, 1))
    return (f"Overspend check: {len(overspends)} rounds of {concurrent} paid bookings sent at "
            f"once through the gateway (rides over HTTP), each round a new agent whose "
            f"mandate's budget covers exactly {covered} of them; an overspend is a round whose "
            f"captured payments sum to more than the budget. **Overspends: {overspent}** "
            f"(must be 0). A reservation in flight counts against the budget until it is "
            f"captured or voided, so refusals can outnumber what the budget leaves; any other "
            f"status is a call that failed (the logs in benchmarks/.run say where), whose "
            f"payment the gateway voided.\n\n{rounds}")


def verdict(results: Sequence[Result]) -> str:
    base = next((r for r in results if r.scenario.baseline), results[0])
    # The target is for the gateway's cost on one call; a paid booking does far more
    # (a 402, a reservation, a processor), and is compared with its own direct row.
    others = [r for r in results if r is not base and r.scenario.compare_with is None]
    if not others or not base.rps:
        return "no comparison"
    worst = min(others, key=lambda r: r.rps)
    ratio = worst.rps / base.rps
    word = "met" if ratio >= TARGET_RATIO else "NOT met"
    return (f"Target: through the gateway >= {TARGET_RATIO:.0%} of direct throughput. "
            f"Lowest: {worst.scenario.name} at {ratio:.0%}: **{word}**.")


def report(results: Sequence[Result], load: Load, facts: dict[str, str],
           overspends: Sequence[OverspendRound] = (), concurrent: int = CONCURRENT,
           covered: int = COVERED) -> str:
    lines = [
        "# Benchmark: direct vs through the gateway",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC} by `make bench` "
        "(`python -m benchmarks.run`).",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in facts.items()) + ".",
        "",
        f"Load: wrk, {load.duration} s per row after a {load.warmup} s warm-up, "
        f"{load.connections} connections, {load.threads} threads; rows run one after the "
        "other in one run, against the same processes and the same seeded SQLite file. "
        "wrk shares the cores with the servers.",
        "",
        f"The call: `GET /channels/{{id}}/messages?limit={MESSAGES_LIMIT}` of #{CHANNEL} "
        f"as {PERSON}. Direct: on the chat process with a Txn-Token minted once with the "
        "gateway's key. Via gateway: `/api/chat/...` with the person's session cookie; the "
        "gateway authenticates, authorizes, mints a Txn-Token per call and forwards. Agent "
        "token: the same call with an access token an agent got through the consent page "
        "(chat:read); an agent's read is a peek (`Preference-Applied: peek`), so it never "
        "marks anything read. MCP tool call: the same read as `tools/call` of "
        "`chat_list_messages` on `POST /mcp` (JSON-RPC, stateless: no session), with an "
        "agent token whose audience is the MCP endpoint; it runs the same pipeline and "
        "comes back as a tool result. The person's first read marks the channel read; every "
        "measured call is then a read. Rate limits are on with quotas no row can reach "
        f"({UNREACHABLE_QUOTA} a minute, counted in memory): every call pays for the "
        "limits stage and none is refused.",
        "",
        "The paid booking: `POST /trips` of a fresh quote (the same ride each time, "
        "Standard, Gare de Lyon to Gare du Nord), each call its own quote. Direct: on the "
        "rides process with a Txn-Token that already carries the payment, as the gateway "
        "sends it once paid (what booking costs the service). Through the gateway: "
        "`/api/rides/trips` with an agent's token (rides:book payments:spend, a mandate on "
        "its grant) and a new Idempotency-Key per call; the gateway forwards, gets the 402, "
        "reserves against the mandate, authorizes with the simulated processor, forwards "
        "again with the payment, captures, and answers with the receipt. Every call is "
        "alice's, so every reservation waits for the one before (the per-person lock). Its "
        "\"vs direct\" is against the direct booking row, and it is not part of the target.",
        "",
        *table(results, overspends),
        "",
        verdict(results),
        "",
        overspend_summary(overspends, concurrent, covered),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per row")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per row")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-inprocess", action="store_true",
                        help="skip the gateway with the chat app in-process")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--concurrent", type=int, default=CONCURRENT,
                        help="overspend check: paid bookings sent at once")
    parser.add_argument("--covered", type=int, default=COVERED,
                        help="overspend check: how many of them the budget covers")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="overspend check: rounds")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench does it as root)")
    load = Load(args.duration, args.connections, args.threads, args.warmup)
    facts = machine_facts()

    workdir = RUN_DIR / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"logs and data in {workdir}")
    with serve(workdir, inprocess=not args.no_inprocess) as system:
        rows = scenarios(system, load)
        results = []
        for scenario in rows:
            first_call(scenario)
            print(f"warming up: {scenario.name}", flush=True)
            run_wrk(scenario, load, workdir, seconds=load.warmup)
            print(f"measuring:  {scenario.name}", flush=True)
            results.append(run_wrk(scenario, load, workdir, seconds=load.duration))
        overspends = overspend_check(system, rounds=args.rounds, concurrent=args.concurrent,
                                     covered=args.covered)
    text = report(results, load, facts, overspends, args.concurrent, args.covered)
    print()
    print("\n".join(table(results, overspends)))
    print()
    print(verdict(results))
    print(overspend_summary(overspends, args.concurrent, args.covered))
    args.output.write_text(text)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
