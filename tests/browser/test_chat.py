"""Chat in a real browser: opening a channel clears its badge and tells the sender it was seen."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.browser.conftest import Login, Screenshot


def test_reading_a_channel_clears_the_badge_and_shows_seen_by(
        browser: Browser, server: str, page: Page, login: Login,
        screenshot: Screenshot) -> None:
    from playwright.sync_api import expect

    from tests.browser.conftest import VIEWPORT

    login(page, "alice")
    page.goto("/chat")
    badge = page.get_by_test_id("unread-design")
    expect(badge).to_have_text("5")
    screenshot(page, "chat")

    page.get_by_role("link", name=re.compile(r"design")).first.click()
    expect(page.get_by_role("heading", name="design")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/chat$"))
    expect(badge).to_have_count(0)

    # Bob, in his own browser, sees that Alice has read his message in #design.
    context = browser.new_context(base_url=server, viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        bob = context.new_page()
        login(bob, "bob")
        bob.goto("/chat")
        bob.get_by_role("link", name=re.compile(r"design")).first.click()
        expect(bob.locator(".message.mine .seen").last).to_contain_text("Seen by Alice")
    finally:
        context.close()
