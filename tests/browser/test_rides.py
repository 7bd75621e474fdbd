"""Rides in a real browser: a person asks for a quote, sees its price, books and pays."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Login, Screenshot


def test_alice_gets_a_quote_sees_the_price_and_books_with_her_card(page: Page, login: Login,
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

    price = page.get_by_test_id("price").inner_text()
    page.get_by_role("button", name=re.compile(r"^Book for")).click()
    # Paid with her seeded Visa through the simulated processor; the trip shows it.
    expect(page).to_have_url(re.compile(r"/rides\?booked=[0-9a-f-]{36}#trip-"))
    expect(page.get_by_test_id("booked")).to_be_visible()
    expect(page.locator("article.trip").filter(has_text=f"Paid {price}")).to_have_count(1)
