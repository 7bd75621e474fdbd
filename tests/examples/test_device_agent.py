"""The example agent, run as a program against a served gateway, with alice approving it.

It is the tutorial's code, so it is tested as a user runs it: ``python
examples/device_agent.py --gateway URL`` in its own process, reading its output.
The test plays alice: when the agent prints its user code, she signs in, opens
/device with the code and approves.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seeds.people import PEOPLE
from tests.support.processes import (
    ROOT,
    SESSION_COOKIE,
    ServerProcess,
    agentgate_command,
    child_env,
    free_port,
    login_cookie,
)

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "device_agent.py"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("example-agent")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ServerProcess(
        "agentgate", agentgate_command("serve", "--port", str(port)), port=port,
        log_path=workdir / "agentgate.log",
        env={"AGENTGATE_ENV": "development", "AGENTGATE_PUBLIC_URL": url,
             "AGENTGATE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'agentgate.db'}"})
    with process:
        process.wait_ready("/login")
        yield url


def approve_device(gateway: str, user_code: str, *, decision: str = "approve") -> None:
    """Alice signs in, opens /device with the code and decides."""
    cookie, _ = login_cookie(gateway, "alice", PEOPLE["alice"].password)
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    page = httpx.get(f"{gateway}/device", params={"user_code": user_code}, headers=headers)
    assert page.status_code == 200, page.text
    assert "Example Device Agent" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = httpx.post(f"{gateway}/device", headers=headers, data={
        "csrf_token": csrf.group(1), "user_code": user_code, "scope": "chat:read",
        "decision": decision})
    assert answer.status_code in (200, 303), answer.text


def run_example(gateway: str, decision: str) -> tuple[int, str]:
    lines: list[str] = []
    with subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--gateway", gateway], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=child_env(), cwd=ROOT) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                lines.append(line)
                if line.startswith("USER_CODE="):
                    approve_device(gateway, line.strip().removeprefix("USER_CODE="),
                                   decision=decision)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    return code, "".join(lines)


def test_the_example_agent_gets_a_token_by_device_flow_and_reads_chat(gateway: str) -> None:
    code, output = run_example(gateway, "approve")
    assert code == 0, output
    assert "[register] registered as client" in output
    assert "[token] approved: scope 'chat:read'" in output
    assert re.search(r"\[chat\] I may see \d+ channel\(s\): .*design", output), output


def test_the_example_agent_stops_cleanly_when_alice_denies(gateway: str) -> None:
    code, output = run_example(gateway, "deny")
    assert code == 1, output
    assert "[token] no token: access_denied" in output
