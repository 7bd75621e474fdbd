"""Browser tests: the real web client, served by ``agentgate serve``, driven in Chromium.

Playwright drives Debian's Chromium (``/usr/bin/chromium``); its own browser
download can't work on machines without internet. Tests here are plain ``def``
tests: Playwright's sync API must not run inside the event loop anyio gives
``async def`` tests.

What a test gets:

- ``server``: the URL of one ``agentgate serve`` process for the whole session, on a
  fresh SQLite file it migrates and seeds itself (demo people: alice, bob, carol).
- ``page``: a fresh browser context and page whose relative URLs go to ``server``.
- ``login``: ``login(page, "alice")`` signs a demo person in through the form.
- ``screenshot``: ``screenshot(page, "chat-unread")`` saves docs/screenshots/chat-unread.png.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from seeds.people import PEOPLE
from tests.support.databases import unavailable
from tests.support.processes import ROOT, fresh_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("AGENTGATE_CHROMIUM", "/usr/bin/chromium"))
# Chromium as root, headless, on a machine whose only network is loopback: without the
# background-networking flags it keeps dialling out and logging refused connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}

Login = Callable[["Page", str], None]
Screenshot = Callable[["Page", str], Path]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/browser is a browser test, marked or not.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the session's browser tests (a module may override it with its own)."""
    with fresh_server(tmp_path_factory.mktemp("browser-server")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by one module's tests.

    Module scope, not session scope: while Playwright's sync API runs, its event
    loop is the thread's running loop, and an async test on the same worker could
    neither start nor close its own (pytest-xdist hands files to a worker in any
    order, so "browser files last" can't be relied on). Leaving the ``with`` at the
    end of the module gives the thread back with no running loop.
    """
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A new page in its own context (no cookies shared between tests)."""
    context = browser.new_context(base_url=server, viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, username: str, password: str | None = None) -> None:
    """Sign ``username`` in through the login form and wait to leave it."""
    password = password if password is not None else PEOPLE[username].password
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def login() -> Login:
    """``login(page, "alice")``: sign a demo person in (their seeded password)."""
    return sign_in


def save_screenshot(page: Page, name: str) -> Path:
    """Save the page as docs/screenshots/{name}.png, for the docs and for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot() -> Screenshot:
    """``screenshot(page, "name")``: save docs/screenshots/name.png."""
    return save_screenshot
