"""Every call through the pipeline leaves an entry: who, as which agents, what, mode, outcome."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from seeds.agents import CALENDAR_HELPER, TRIP_PLANNER, TRIP_PLANNER_GRANT
from seeds.chat import channel_id
from seeds.people import PEOPLE
from tests.gateway.activity.conftest import entries
from tests.support.agents import bearer, make_agent, make_grant, mint_access_token
from tests.support.web import sign_in

ALICE = PEOPLE["alice"].id
DESIGN = channel_id("design")


async def test_a_persons_read_is_recorded_with_a_summary(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    await client.get("/api/chat/channels")
    read = await client.get(f"/api/chat/channels/{DESIGN}/messages", params={"limit": 7})
    assert read.status_code == 200

    *_, listed, entry = await entries(gateway_app, ALICE)

    assert listed.operation_id == "list_channels"
    assert entry.via == "session"
    assert entry.actors == []
    assert entry.agent_sub is None
    assert (entry.service, entry.operation_id, entry.method) == ("chat", "list_messages", "GET")
    assert entry.path == f"/channels/{DESIGN}/messages"
    assert entry.effects == "live"
    assert (entry.status, entry.problem_type) == (200, None)
    assert entry.summary == "Alice Martin read 7 messages in #design (marked read)"
    assert entry.request_id


async def test_a_persons_post_is_recorded(gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, "alice")
    await client.get("/api/chat/channels")
    general = channel_id("general")
    posted = await client.post(f"/api/chat/channels/{general}/messages", json={"text": "hi"},
                               headers={"X-CSRF-Token": csrf})
    assert posted.status_code == 201

    entry = (await entries(gateway_app, ALICE))[-1]

    assert entry.operation_id == "post_message"
    assert entry.summary == "Alice Martin posted a message in #general"


async def test_an_agents_read_names_the_agent_and_its_chain(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    token = bearer(await mint_access_token(gateway_app, TRIP_PLANNER_GRANT))
    await client.get("/api/chat/channels", headers=token)
    read = await client.get(f"/api/chat/channels/{DESIGN}/messages", headers=token)
    assert read.status_code == 200
    count = len(read.json()["items"])

    entry = (await entries(gateway_app, ALICE))[-1]

    assert entry.user_id == ALICE
    assert entry.via == "token"
    assert entry.actors == [{"sub": f"agent:{TRIP_PLANNER.id}", "name": "Trip Planner"}]
    assert entry.agent_sub == f"agent:{TRIP_PLANNER.id}"
    assert entry.effects == "peek"
    assert entry.summary == (f"Trip Planner read {count} messages in #design "
                             "(peek: nothing marked read)")


async def test_a_sub_agents_entry_keeps_the_whole_act_chain(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    from seeds.agents import CALENDAR_HELPER_GRANT

    token = bearer(await mint_access_token(gateway_app, CALENDAR_HELPER_GRANT))
    assert (await client.get("/api/chat/channels", headers=token)).status_code == 200

    entry = (await entries(gateway_app, ALICE))[-1]

    assert [a["sub"] for a in entry.actors] == [f"agent:{CALENDAR_HELPER.id}",
                                                f"agent:{TRIP_PLANNER.id}"]
    assert entry.agent_sub == f"agent:{CALENDAR_HELPER.id}"
    assert entry.effects == "peek"
    assert entry.summary == "Calendar Helper listed 1 channel (peek: no side effects)"


async def test_a_refusal_for_a_missing_scope_is_recorded(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    token = bearer(await mint_access_token(gateway_app, TRIP_PLANNER_GRANT))
    refused = await client.post(f"/api/chat/channels/{DESIGN}/messages", json={"text": "hi"},
                                headers=token)
    assert refused.status_code == 403

    entry = (await entries(gateway_app, ALICE))[-1]

    assert entry.operation_id == "post_message"
    assert (entry.status, entry.problem_type, entry.effects) == (403, "insufficient-scope", None)
    assert entry.summary == "Trip Planner was refused: missing scope chat:write"


async def test_an_unknown_route_is_recorded_as_refused(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    assert (await client.get("/api/chat/no-such-thing")).status_code == 404

    entry = (await entries(gateway_app, ALICE))[-1]

    assert (entry.operation_id, entry.status, entry.problem_type) == (None, 404, "not-found")
    assert entry.summary == ("Alice Martin was refused: no such operation, "
                             "GET /api/chat/no-such-thing")


async def test_a_service_error_is_recorded_with_its_problem_type(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    missing = "00000000-0000-0000-0000-000000000000"
    response = await client.get(f"/api/chat/channels/{missing}/messages")
    assert response.status_code == 404

    entry = (await entries(gateway_app, ALICE))[-1]

    assert (entry.operation_id, entry.status) == ("list_messages", 404)
    assert entry.problem_type == response.json()["type"].rsplit("/", 1)[-1]
    assert entry.summary.startswith("Alice Martin's call failed (list messages, 404)")


async def test_the_web_clients_calls_are_recorded_too(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    await sign_in(client, "alice")
    page = await client.get(f"/chat/{DESIGN}", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text

    recorded = await entries(gateway_app, ALICE)

    assert "list_messages" in {e.operation_id for e in recorded}
    assert all(e.via == "session" for e in recorded)


async def test_a_live_read_without_the_effect_scope_is_recorded_as_refused(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    token = bearer(await mint_access_token(gateway_app, TRIP_PLANNER_GRANT))
    refused = await client.get(f"/api/chat/channels/{DESIGN}/messages",
                               headers={**token, "Prefer": "effects=live"})
    assert refused.status_code == 403

    entry = (await entries(gateway_app, ALICE))[-1]

    assert (entry.operation_id, entry.problem_type) == ("list_messages", "insufficient-scope")
    assert entry.summary == "Trip Planner was refused: missing scope chat:mark_read"


async def test_a_live_read_with_the_effect_scope_says_it_marked_read(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    async with gateway_app.state.sessionmaker() as db, db.begin():
        agent = await make_agent(db, "Inbox Keeper")
        grant = await make_grant(db, ALICE, agent, scope="chat:read chat:mark_read")
    token = bearer(await mint_access_token(gateway_app, grant.id))
    await client.get("/api/chat/channels", headers=token)
    read = await client.get(f"/api/chat/channels/{DESIGN}/messages",
                            headers={**token, "Prefer": "effects=live"})
    assert read.status_code == 200, read.text

    entry = (await entries(gateway_app, ALICE))[-1]

    assert entry.effects == "live"
    assert entry.summary.startswith("Inbox Keeper read ")
    assert entry.summary.endswith(" in #design (marked read)")


async def test_a_dry_run_post_is_recorded_as_what_would_have_happened(
        gateway_app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, "alice")
    await client.get("/api/chat/channels")
    posted = await client.post(f"/api/chat/channels/{DESIGN}/messages", json={"text": "hi"},
                               headers={"X-CSRF-Token": csrf, "Prefer": "dry-run"})
    assert posted.status_code in (200, 201), posted.text

    entry = (await entries(gateway_app, ALICE))[-1]

    assert entry.effects == "dry-run"
    assert entry.summary == ("Alice Martin would have posted a message in #design "
                             "(dry-run: nothing stored or sent)")
