"""Connected agents in a real browser: alice sees her demo agent, narrows it, revokes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seeds.agents import CALENDAR_HELPER_GRANT, TRIP_PLANNER_GRANT

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Login, Screenshot

READ_CHAT = "Read your channels, messages and threads"
SEE_RIDES = "See places, price quotes and your trips"


def test_alice_narrows_then_revokes_her_trip_planner(page: Page, login: Login,
                                                     screenshot: Screenshot) -> None:
    from playwright.sync_api import expect

    login(page, "alice")
    page.get_by_role("link", name="Agents").click()
    expect(page.get_by_role("heading", name="Connected agents")).to_be_visible()

    planner = page.get_by_test_id(f"grant-{TRIP_PLANNER_GRANT}")
    helper = planner.get_by_test_id(f"grant-{CALENDAR_HELPER_GRANT}")
    expect(planner.get_by_role("heading", name="Trip Planner")).to_be_visible()
    expect(planner).to_contain_text("by Example Labs")
    expect(planner).to_contain_text(READ_CHAT)
    expect(planner).to_contain_text(SEE_RIDES)
    expect(planner).to_contain_text("Only these channels")
    expect(planner.locator(".chip").first).to_have_text("design")
    expect(helper.get_by_role("heading", name="Calendar Helper")).to_be_visible()
    expect(helper).not_to_contain_text(SEE_RIDES)
    screenshot(page, "agents")

    planner.get_by_role("link", name="Narrow…").first.click()
    expect(page.get_by_role("heading", name="Narrow Trip Planner")).to_be_visible()
    page.get_by_label(SEE_RIDES).uncheck()
    page.get_by_role("button", name="Save narrower access").click()

    expect(page.get_by_role("status")).to_contain_text("Trip Planner now has less access")
    expect(planner).to_contain_text(READ_CHAT)
    expect(planner).not_to_contain_text(SEE_RIDES)

    planner.get_by_text("Revoke…").first.click()
    planner.get_by_role("button", name="Yes, revoke").first.click()

    expect(page.get_by_role("status")).to_contain_text("Access revoked")
    expect(page.get_by_text("Trip Planner")).to_have_count(0)
    expect(page.get_by_text("Calendar Helper")).to_have_count(0)
    expect(page.get_by_test_id("no-agents")).to_be_visible()
