"""Rides in a real browser: a person asks for a quote and sees its price."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Login, Screenshot


def test_alice_gets_a_quote_and_sees_the_price(page: Page, login: Login,
                                               screenshot: Screenshot) -> None:
    from playwright.sync_api import expect

    login(page, "alice")
    page.goto("/rides")
    page.get_by_label("Pickup").select_option(label="CDG Airport")
    page.get_by_label("Dropoff").select_option(label="Musée du Louvre")
    page.get_by_text("Comfort", exact=True).click()
    page.get_by_role("button", name="Get a price").click()

    expect(page).to_have_url(re.compile(r"/rides/quotes/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("price")).to_have_text(re.compile(r"^\d+\.\d\d EUR$"))
    screenshot(page, "rides")

    page.get_by_role("button", name=re.compile(r"^Book for")).click()
    expect(page.get_by_test_id("refusal")).to_contain_text("Payment required")
