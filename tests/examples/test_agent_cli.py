"""The tutorial agent run as a user runs it: ``python -m examples.agent`` against a served gateway.

It is the tutorial's code, so it is tested in its own process, reading its output.
The test plays alice: when the agent prints its user code she signs in, opens
/device with the code and decides; when it prints a held approval she approves it.
The agent really sleeps the intervals the gateway gives it (5 s a poll).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.agent import NAME, SCOPE
from seeds.people import PEOPLE
from tests.support.processes import (
    ROOT,
    SESSION_COOKIE,
    child_env,
    fresh_server,
    login_cookie,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_server(tmp_path_factory.mktemp("example-agent")) as url:
        yield url


def alice(gateway: str) -> tuple[dict[str, str], str]:
    cookie, csrf = login_cookie(gateway, "alice", PEOPLE["alice"].password)
    return {"Cookie": f"{SESSION_COOKIE}={cookie}"}, csrf


def decide_device(gateway: str, user_code: str, decision: str) -> None:
    """Alice signs in, opens /device with the code, reads who asks, and decides."""
    headers, _ = alice(gateway)
    page = httpx.get(f"{gateway}/device", params={"user_code": user_code}, headers=headers)
    assert page.status_code == 200, page.text
    assert NAME in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = httpx.post(f"{gateway}/device", headers=headers, data={
        "csrf_token": csrf.group(1), "user_code": user_code, "scope": SCOPE.split(),
        "decision": decision})
    assert answer.status_code == 200, answer.text


def approve_payment(approval_url: str) -> None:
    """Alice approves the held booking from her approvals page."""
    gateway = approval_url.split("/approvals/", 1)[0]
    headers, csrf = alice(gateway)
    answer = httpx.post(f"{approval_url}/approve", headers=headers, data={"csrf_token": csrf})
    assert answer.status_code == 303, answer.text


def run_agent(gateway: str, state: Path, *args: str, decision: str = "approve",
              ) -> tuple[int, str]:
    lines: list[str] = []
    command = [sys.executable, "-m", "examples.agent", "--gateway", gateway,
               "--state", str(state), *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=child_env({"PYTHONPATH": str(ROOT)}), cwd=ROOT) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                lines.append(line)
                if line.startswith("USER_CODE="):
                    decide_device(gateway, line.strip().removeprefix("USER_CODE="), decision)
                if line.startswith("APPROVAL="):
                    approve_payment(line.strip().removeprefix("APPROVAL="))
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    return code, "".join(lines)


def test_the_agent_connects_reads_and_books_then_remembers_its_place(
        gateway: str, tmp_path: Path) -> None:
    state = tmp_path / "agent.json"

    code, first = run_agent(gateway, state, "--ride", "Orly", "Tour Eiffel", "--book")
    assert code == 0, first
    code, second = run_agent(gateway, state, "--http")
    assert code == 0, second

    assert "[register] registered as client" in first
    assert re.search(r"\[token\] approved: scope '[^']*payments:spend", first), first
    assert "[token] mandate: up to 60.00 EUR a payment" in first
    assert re.search(r"\[peek\] \d+ new message\(s\)", first), first
    assert "[dry-run] payment_preview: needs_approval" in first
    assert "[book] held for your approval" in first
    assert re.search(r"\[book\] booked trip .*: paid 37\.09 EUR", first), first
    assert "[connect] using my saved tokens" in second
    assert "[peek] nothing new since my last look" in second
    assert re.search(r"  -> GET http://127\.0\.0\.1:\d+/api/chat/channels/[0-9a-f-]+/new\?limit=100"
                     r"  \(Prefer: peek\)\n  <- 200  \(Preference-Applied: peek\)", second), second


def test_the_agent_stops_cleanly_when_alice_denies(gateway: str, tmp_path: Path) -> None:
    state = tmp_path / "agent.json"

    code, output = run_agent(gateway, state, decision="deny")

    assert code == 1, output
    assert "[token] no token: access_denied" in output
    assert not state.exists()
