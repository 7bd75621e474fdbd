"""Run the system as real processes: start a server on a free port, wait, stop it.

The browser tests, the topology test and the benchmark all need the same thing: a
uvicorn (or ``agentgate serve``) process on a port nobody else uses, with its own
``AGENTGATE_*`` environment, ready before the first request, whose log is at hand
when something fails, and which is gone afterwards whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SESSION_COOKIE = "agentgate_session"


class ProcessFailed(RuntimeError):
    """A server did not come up in time, or a command failed; the message carries its log."""


def free_port(host: str = HOST) -> int:
    """Return a TCP port that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def venv_script(name: str) -> str:
    """Return the path of a console script installed beside this interpreter."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ProcessFailed(f"{name!r} is not installed; run `make install`")
    return found


def uvicorn_command(
    app: str,
    port: int,
    *,
    factory: bool = True,
    access_log: bool = True,
    log_level: str = "info",
    host: str = HOST,
) -> list[str]:
    """Return the command that serves ``app`` (``module:attr``) with uvicorn."""
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        host,
        "--port",
        str(port),
        "--log-level",
        log_level,
    ]
    if factory:
        argv.append("--factory")
    if not access_log:
        argv.append("--no-access-log")
    return argv


def agentgate_command(*args: str) -> list[str]:
    """Return the command line of the ``agentgate`` CLI with ``args``."""
    return [venv_script("agentgate"), *args]


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: ours, unbuffered, plus ``env``."""
    merged = dict(os.environ)
    merged["PYTHONUNBUFFERED"] = "1"
    merged.update(env or {})
    return merged


def tail(path: Path, lines: int = 80) -> str:
    """Return the last ``lines`` lines of a log file (or a note that it is empty)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) if kept else "(the log is empty)"


def run_command(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> str:
    """Run a command to completion and return its output; fail with that output otherwise."""
    try:
        done = subprocess.run(
            list(argv),
            cwd=ROOT,
            env=child_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ProcessFailed(f"{' '.join(argv)} took more than {timeout:.0f} s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise ProcessFailed(f"{' '.join(argv)} exited {done.returncode}:\n{output}")
    return output


class ServerProcess:
    """One server process: started in its own process group, its output in ``log_path``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with ServerProcess("chat", uvicorn_command("services.chat.app:standalone", port),
                           port=port, env={...}, log_path=tmp / "chat.log") as chat:
            chat.wait_ready("/openapi.json")
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        host: str = HOST,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.host = host
        self.log_path = log_path
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            # A new session (process group), so stop() also reaches any child it forks.
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=child_env(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, path: str = "/", *, timeout: float = 120.0) -> None:
        """Wait until ``path`` answers with anything below 500; fail with the log otherwise."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not self.running():
                    code = self.proc.returncode if self.proc else None
                    raise ProcessFailed(
                        self.describe(f"exited with code {code} before it answered")
                    )
                try:
                    response = client.get(self.url + path)
                except httpx.HTTPError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code < 500:
                        return
                    last_error = f"HTTP {response.status_code}"
                time.sleep(0.2)
        raise ProcessFailed(
            self.describe(f"did not answer {path} within {timeout:.0f} s ({last_error})")
        )

    def describe(self, what: str) -> str:
        """A failure message: what happened, the command, and the end of the log."""
        return (
            f"{self.name} ({' '.join(self.argv)}) {what}.\n"
            f"--- last lines of {self.log_path} ---\n{tail(self.log_path)}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process group: SIGTERM, then SIGKILL if it is still there after ``timeout``."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            proc.wait(timeout=timeout)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def login_cookie(
    base_url: str, username: str, password: str, *, timeout: float = 10.0
) -> tuple[str, str]:
    """Log a person in through the web form; return (session cookie value, CSRF token).

    The session cookie is ``Secure``: browsers send it to http://127.0.0.1, Python's
    cookie jar does not, so cookies travel here in an explicit ``Cookie`` header, and
    callers do the same: ``headers={"Cookie": f"agentgate_session={value}"}``.
    """
    jar: dict[str, str] = {}

    def cookie_header() -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}

    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        form = client.get("/login")
        form.raise_for_status()
        jar.update(form.cookies.items())
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', form.text
        )
        if match is None:
            raise ProcessFailed(f"no csrf_token field on {base_url}/login:\n{form.text[:2000]}")
        answer = client.post(
            "/login",
            headers=cookie_header(),
            data={"username": username, "password": password, "csrf_token": match.group(1)},
        )
        if answer.status_code != 303:
            raise ProcessFailed(
                f"login as {username} answered {answer.status_code}: {answer.text[:500]}"
            )
        jar.update(answer.cookies.items())
        cookie = jar.get(SESSION_COOKIE)
        if not cookie:
            raise ProcessFailed(
                f"login as {username} set no {SESSION_COOKIE} cookie: "
                f"{answer.headers.get_list('set-cookie')}"
            )
        session = client.get("/auth/session", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
        session.raise_for_status()
        return cookie, str(session.json()["csrf_token"])


@contextlib.contextmanager
def fresh_server(workdir: Path) -> Iterator[str]:
    """``agentgate serve`` (in-process services) on a fresh, seeded SQLite file; yields its URL."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    process = ServerProcess(
        "agentgate", agentgate_command("serve", "--port", str(port)), port=port,
        log_path=workdir / "agentgate.log",
        env={
            "AGENTGATE_ENV": "development",
            "AGENTGATE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'agentgate.db'}",
            "AGENTGATE_PUBLIC_URL": url,
        },
    )
    with process:
        process.wait_ready("/login")
        yield url
