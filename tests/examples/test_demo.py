"""``agentgate demo`` runs the whole story green, in-process and as the installed command.

The demo checks every step itself (it is a smoke test as much as a show), so
these tests check its exit code and the lines that carry the story; one more
run with a wider mandate shows its checks can fail.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from examples.agent import MANDATE
from gateway.cli import main
from tests.support.processes import ROOT, agentgate_command, child_env

pytestmark = pytest.mark.slow

STORY = [
    "your own data is not touched",
    "1. alice connects an agent, with scopes and a spending mandate",
    "gets its token: scope",
    "(nothing was marked read)",
    'sees it in #design as "Alice Martin via Tutorial Agent"',
    "reads channels: 200; posts: 403",
    "402 over_per_payment_cap",
    "Spent 12.25 EUR of 200.00 EUR this week",
    "202 Accepted, Location https://agentgate.invalid/approvals/",
    "Spent 49.34 EUR of 200.00 EUR this week",
    "calls the chat API: 401; its refresh token: invalid_grant",
    "All 7 steps behaved as expected",
]


def test_the_demo_runs_green_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo"])

    output = capsys.readouterr().out
    assert code == 0, output
    for line in STORY:
        assert line in output, f"{line!r} missing from:\n{output}"


def test_the_installed_command_runs_the_demo() -> None:
    done = subprocess.run(agentgate_command("demo"), capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=child_env({"PYTHONPATH": str(ROOT)}),
                          check=False)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "All 7 steps behaved as expected" in done.stdout


def test_a_step_that_misbehaves_fails_the_demo(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A threshold above the ride's price: step 6 expects to be held, and is not.
    monkeypatch.setitem(MANDATE, "approval_threshold", 5000)

    code = main(["demo"])

    output = capsys.readouterr().out
    assert code == 1, output
    assert "FAILED: the dry-run says" in output
    assert "All 7 steps" not in output


def test_without_the_examples_the_command_says_what_to_do(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # As from an installed wheel, which carries gateway/, services/ and seeds/ only.
    monkeypatch.delitem(sys.modules, "gateway.demo", raising=False)
    monkeypatch.setitem(sys.modules, "examples.agent", None)

    code = main(["demo"])

    assert code == 2
    assert "run it from a clone of the repository (make demo)" in capsys.readouterr().err
