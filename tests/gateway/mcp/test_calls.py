"""A tool call is the REST call: the same effects, payments, approvals and record."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.gateway.mcp.conftest import (
    ALICE,
    DESIGN,
    McpClient,
    McpFor,
    app_of,
    design_counts,
    mcp_token,
    over_mcp,
    structured,
)
from tests.gateway.payments.conftest import (
    MandatedAgent,
    QuoteFor,
    ledger,
    mandate,
    payments_of,
    save_card,
    trips,
)
from tests.support.agents import bearer
from tests.support.web import sign_in

TRIP_KEY = "mcp-trip-1"


async def test_an_agents_read_is_a_peek_and_leaves_alices_unread_count(
        client: httpx.AsyncClient, mcp_agent: McpFor, alice_rest: dict[str, str]) -> None:
    mcp = await mcp_agent("chat:read chat:mark_read")

    result = await mcp.call("chat_list_messages", {"channel_id": DESIGN})

    assert result["isError"] is False
    assert structured(result)["items"]
    assert result["_meta"]["agentgate/preference-applied"] == "peek"
    assert {"type": "text", "text": "Preference-Applied: peek"} in result["content"]
    assert await design_counts(client, alice_rest) == (5, 2)


async def test_a_live_read_needs_the_effect_scope_as_in_rest(
        client: httpx.AsyncClient, mcp_agent: McpFor, alice_rest: dict[str, str]) -> None:
    reader = await mcp_agent("chat:read")
    marker = await mcp_agent("chat:read chat:mark_read")
    rest = await client.get(f"/api/chat/channels/{DESIGN}/messages",
                            headers=reader.headers | {"Prefer": "effects=live"})

    refused = await reader.challenged("chat_list_messages",
                                      {"channel_id": DESIGN, "effects": "live"})

    assert rest.status_code == 401  # an MCP token is not a REST token (audience)
    assert refused.scopes == {"chat:read", "chat:mark_read"}
    assert (refused.problem["status"], refused.problem["type"]) == \
        (403, "/problems/insufficient-scope")
    assert refused.problem["missing_scopes"] == ["chat:mark_read"]
    assert await design_counts(client, alice_rest) == (5, 2)

    live = await marker.call("chat_list_messages", {"channel_id": DESIGN, "effects": "live"})

    assert live["isError"] is False
    assert live["_meta"]["agentgate/preference-applied"] == "effects=live"
    assert await design_counts(client, alice_rest) == (0, 0)


async def test_a_dry_run_booking_says_what_it_would_pay_and_books_nothing(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    mcp = await over_mcp(client, await mandated(mandate()))

    result = await mcp.call("rides_book_trip", {"body": {"quote_id": quote_id},
                                                "effects": "dry-run"})

    assert result["isError"] is False, result
    assert result["_meta"]["agentgate/preference-applied"] == "dry-run"
    preview = structured(result)["payment_preview"]
    assert (preview["amount"], preview["outcome"], preview["charged"]) == (
        amount, "would_pay", False)
    assert await ledger(client) == []
    assert await trips(client, quote_id) == []


async def test_a_booking_within_the_mandate_is_paid_with_a_receipt_once(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    mcp = await over_mcp(client, await mandated(mandate()))
    arguments = {"body": {"quote_id": quote_id}, "idempotency_key": TRIP_KEY}

    first = await mcp.call("rides_book_trip", arguments)
    retried = await mcp.call("rides_book_trip", arguments)

    assert first["isError"] is False, first
    receipt = structured(first)["payment_receipt"]
    assert (receipt["amount"], receipt["status"], receipt["simulated"]) == (
        amount, "captured", True)
    assert structured(retried) == structured(first)  # the same key never pays twice
    [payment] = await ledger(client)
    assert (str(payment.id), payment.status) == (receipt["id"], "captured")
    assert len(await trips(client, quote_id)) == 1


async def test_without_payments_spend_the_step_up_challenge_comes_and_the_key_stays_free(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate())
    app = app_of(client)
    # The agent's first token lacks payments:spend (it asked for less); after the step-up
    # it holds a token with it, for the same grant and client.
    narrow = McpClient(client, bearer(await mcp_token(app, agent.grant_id,
                                                      scope="rides:read rides:book")))
    arguments = {"body": {"quote_id": quote_id}, "idempotency_key": TRIP_KEY}

    refused = await narrow.challenged("rides_book_trip", arguments)

    assert refused.scopes == {"rides:book", "payments:spend"}
    assert refused.problem["missing_scopes"] == ["payments:spend"]
    assert await ledger(client) == []
    assert await trips(client, quote_id) == []

    # The same call, same key, with the stepped-up token runs: the refusal was not stored.
    stepped_up = await over_mcp(client, agent)
    booked = await stepped_up.call("rides_book_trip", arguments)

    assert booked["isError"] is False, booked
    assert structured(booked)["payment_receipt"]["amount"] == amount
    assert len(await trips(client, quote_id)) == 1


async def test_a_paid_call_without_a_key_is_a_tool_error_saying_so(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    quote_id, _ = await quote()
    mcp = await over_mcp(client, await mandated(mandate()))

    result = await mcp.call("rides_book_trip", {"body": {"quote_id": quote_id}})

    assert result["isError"] is True
    assert structured(result)["type"] == "/problems/idempotency-key-missing"
    assert await ledger(client) == []


async def test_over_the_threshold_the_agent_is_told_to_wait_then_polls_the_outcome(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    agent = await mandated(mandate(approval_threshold=amount - 1))
    mcp = await over_mcp(client, agent)

    held = await mcp.call("rides_book_trip", {"body": {"quote_id": quote_id},
                                              "idempotency_key": TRIP_KEY})

    assert held["isError"] is False  # a wait, not a failure
    pending = structured(held)
    assert pending["status"] == "pending_approval"
    assert pending["poll_url"] == f"{app_of(client).state.settings.issuer}/approvals/" \
                                  f"{pending['approval_id']}"
    assert (pending["approval"]["amount"], pending["approval"]["reason"]) == (
        amount, "over_threshold")
    assert "gateway_get_approval" in pending["next"]
    waiting = await mcp.call("gateway_get_approval", {"approval_id": pending["approval_id"]})
    assert structured(waiting)["status"] == "pending"
    assert await ledger(client) == []

    await payments_of(client).approvals.approve(
        uuid.UUID(pending["approval_id"]), ALICE, app_of(client).state.pipeline)
    done = await mcp.call("gateway_get_approval", {"approval_id": pending["approval_id"]})

    outcome = structured(done)
    assert outcome["status"] == "completed"
    assert outcome["result"]["status"] == 201
    assert outcome["result"]["body"]["payment_receipt"]["status"] == "captured"
    assert len(await trips(client, quote_id)) == 1


async def test_another_agent_can_not_poll_someone_elses_approval(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, amount = await quote()
    mcp = await over_mcp(client, await mandated(mandate(approval_threshold=amount - 1)))
    other = await over_mcp(client, await mandated(mandate(), name="Other Agent"))
    held = structured(await mcp.call("rides_book_trip", {"body": {"quote_id": quote_id},
                                                         "idempotency_key": TRIP_KEY}))

    result = await other.call("gateway_get_approval", {"approval_id": held["approval_id"]})

    assert result["isError"] is True
    assert structured(result)["status"] == 404


async def test_without_a_mandate_the_booking_is_a_tool_error_with_the_402_problem(
        client: httpx.AsyncClient, mandated: MandatedAgent, quote: QuoteFor) -> None:
    await save_card(client)
    quote_id, _ = await quote()
    mcp = await over_mcp(client, await mandated(None))

    result = await mcp.call("rides_book_trip", {"body": {"quote_id": quote_id},
                                                "idempotency_key": TRIP_KEY})

    assert result["isError"] is True
    problem = structured(result)
    assert (problem["status"], problem["type"]) == (402, "/problems/payment-refused")
    assert problem["reason"] == "no_mandate"
    assert "fix_at" in problem
    assert await trips(client, quote_id) == []


async def test_the_call_shows_in_alices_activity_as_the_agent_over_mcp(
        client: httpx.AsyncClient, mcp_agent: McpFor) -> None:
    mcp = await mcp_agent("chat:read", name="Scout")
    assert (await mcp.call("chat_list_messages", {"channel_id": DESIGN}))["isError"] is False

    await sign_in(client, "alice")
    page = await client.get("/activity")

    assert page.status_code == 200
    newest = re.findall(r'<tr data-testid="activity-entry".*?</tr>', page.text, re.S)[0]
    assert "Scout for you (over MCP)" in newest
    assert re.search(r"Scout read \d+ messages \(peek: nothing marked read\)", newest)
