"""The web client comes up in a real browser and a person can sign in."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seeds.people import PEOPLE

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Login, Screenshot


def test_login_page_renders(page: Page, screenshot: Screenshot) -> None:
    from playwright.sync_api import expect

    page.goto("/login")

    expect(page).to_have_title(re.compile("Sign in"))
    expect(page.get_by_label("Username")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    screenshot(page, "login")


def test_alice_signs_in_and_sees_her_name(page: Page, login: Login,
                                         screenshot: Screenshot) -> None:
    from playwright.sync_api import expect

    login(page, "alice")

    assert "/login" not in page.url
    expect(page.get_by_test_id("whoami")).to_have_text(PEOPLE["alice"].display_name)
    screenshot(page, "signed-in")
