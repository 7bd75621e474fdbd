"""What the gateway costs: the same call made directly on a service and through the gateway.

``make bench`` (or ``python -m benchmarks.run``) serves the system as separate
processes, as docker-compose does: the chat service in its own uvicorn process and
the gateway in front of it, forwarding over HTTP. A second gateway process runs the
chat app in-process, the single-process deployment. On a fresh seeded SQLite file,
``wrk`` then drives each scenario with the same duration and connections, one after
the other in one run, and the result is printed and written to benchmarks/results.md.

A scenario is one row: a name, a URL and the headers (and, for writes, a method and
a body) that make the call. New paths (an agent's token, a peek read, an MCP call)
are new rows in :func:`scenarios`.
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
TARGET_RATIO = 0.70  # through the gateway, at least this share of the direct throughput
PERSON = "alice"
CHANNEL = "design"
MESSAGES_LIMIT = 50

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
    script.write_text(wrk_script(scenario))
    argv = ["wrk", "--threads", str(load.threads), "--connections", str(load.connections),
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
    gateway: str  # forwards to the chat process over HTTP
    gateway_inprocess: str | None  # runs the chat app inside the gateway process
    chat: str
    database_url: str
    issuer: str


@contextmanager
def serve(workdir: Path, *, inprocess: bool) -> Iterator[System]:
    """Seed a fresh SQLite file and start chat, the gateway, and optionally a second gateway."""
    database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    base_env = {"AGENTGATE_ENV": "development", "AGENTGATE_DATABASE_URL": database_url}
    print(f"seeding {database_url}")
    run_command(agentgate_command("seed"), env=base_env)

    chat_port, gateway_port, inprocess_port = free_port(), free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    # Both gateways share the database, so the signing keys and the issuer: one is enough.
    env = {**base_env, "AGENTGATE_PUBLIC_URL": gateway_url,
           "AGENTGATE_GATEWAY_JWKS_URL": f"{gateway_url}/.well-known/jwks.json"}
    chat = ServerProcess(
        "chat", uvicorn_command("services.chat.app:standalone", chat_port, access_log=False,
                                log_level="warning"),
        port=chat_port, env=env, log_path=workdir / "chat.log")
    gateway = ServerProcess(
        "gateway", agentgate_command("serve", "--port", str(gateway_port)), port=gateway_port,
        env={**env, "AGENTGATE_CHAT_URL": chat.url}, log_path=workdir / "gateway.log")
    with ExitStack() as stack:
        stack.enter_context(chat).wait_ready("/openapi.json")
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
                     database_url=database_url, issuer=gateway_url)


async def mint_txn_token(system: System, user: dict[str, Any], scopes: frozenset[str],
                         ttl: int) -> str:
    """Sign a Txn-Token for the chat service with the gateway's own key, as the gateway would."""
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
    ctx = TxnContext(txn=uuid.uuid4().hex, sub=str(user["id"]), username=user["username"],
                     name=user.get("display_name") or user.get("name") or user["username"],
                     scopes=scopes, effects="live")
    return TxnTokenMinter(keys, issuer=system.issuer, ttl=ttl).mint(ctx, "chat")


def agent_token(system: System, cookie: str) -> str:
    """Connect an agent the way a real one does, and return its access token.

    It registers (RFC 7591), the person approves it on the consent page (PKCE,
    RFC 8707 resource), and it redeems the code: the token the gateway then checks
    on every call of the agent-token row.
    """
    from tests.support.oauth import pkce_pair
    from tests.support.web import form_csrf

    redirect_uri = "http://127.0.0.1:9/callback"
    with httpx.Client(base_url=system.gateway, timeout=10.0) as http:
        client_id = http.post("/oauth/register", json={
            "client_name": "Bench Agent", "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none", "scope": "chat:read"}).json()["client_id"]
        verifier, challenge = pkce_pair()
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                 "scope": "chat:read", "state": "bench", "code_challenge": challenge,
                 "code_challenge_method": "S256", "resource": f"{system.issuer}/api"}
        http.cookies.set(SESSION_COOKIE, cookie)
        page = http.get("/oauth/authorize", params=query)
        field = re.search(r'name="request" value="([^"]*)"', page.text)
        if page.status_code != 200 or field is None:
            raise SystemExit(f"consent page answered {page.status_code}: {page.text[:500]}")
        decision = http.post("/oauth/authorize", data={
            "csrf_token": form_csrf(page.text), "request": html.unescape(field.group(1)),
            "decision": "approve"})
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
    token = asyncio.run(mint_txn_token(system, user, chat_scopes, ttl))

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
    if system.gateway_inprocess:
        # The session cookie works on both gateways: they share the database.
        rows.append(Scenario("chat read, via gateway (chat in-process)",
                             system.gateway_inprocess + "/api/chat" + path, person))
    return rows


def check(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.method} {response.request.url} answered "
                         f"{response.status_code}: {response.text[:1000]}")
    return response.json()


def first_call(scenario: Scenario) -> None:
    """Make the call once and insist on a 200 (the first read also marks the channel read)."""
    response = httpx.request(scenario.method, scenario.url, headers=scenario.headers,
                             content=scenario.body, timeout=10.0)
    check(response)


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


def table(results: Sequence[Result]) -> list[str]:
    base = next((r for r in results if r.scenario.baseline), results[0])
    lines = ["| scenario | requests/s | p50 ms | p99 ms | vs direct | errors |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        ratio = r.rps / base.rps if base.rps else 0.0
        lines.append(f"| {r.scenario.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
                     f"| {ratio:.0%} | {r.non_2xx + r.socket_errors} |")
    return lines


def verdict(results: Sequence[Result]) -> str:
    base = next((r for r in results if r.scenario.baseline), results[0])
    others = [r for r in results if r is not base]
    if not others or not base.rps:
        return "no comparison"
    worst = min(others, key=lambda r: r.rps)
    ratio = worst.rps / base.rps
    word = "met" if ratio >= TARGET_RATIO else "NOT met"
    return (f"Target: through the gateway >= {TARGET_RATIO:.0%} of direct throughput. "
            f"Lowest: {worst.scenario.name} at {ratio:.0%}: **{word}**.")


def report(results: Sequence[Result], load: Load, facts: dict[str, str]) -> str:
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
        "marks anything read. The person's first read marks the channel read; every "
        "measured call is then a read.",
        "",
        *table(results),
        "",
        verdict(results),
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
    text = report(results, load, facts)
    print()
    print("\n".join(table(results)))
    print()
    print(verdict(results))
    args.output.write_text(text)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
