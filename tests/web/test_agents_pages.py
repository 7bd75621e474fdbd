"""The Connected agents pages: what each agent may do, in plain words; narrowing; revoking."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import optional_principal
from gateway.identity.models import Grant, Revocation
from gateway.principal import Principal
from seeds.agents import CALENDAR_HELPER_GRANT, TRIP_PLANNER_GRANT
from seeds.chat import channel_id
from seeds.people import PEOPLE
from tests.support.agents import make_agent, make_grant, make_sub_grant
from tests.web.conftest import signed_in

DESIGN, GENERAL = str(channel_id("design")), str(channel_id("general"))
READ_CHAT = "Read your channels, messages and threads"
SEE_RIDES = "See places, price quotes and your trips"


async def in_db(app: FastAPI, work: Callable[[AsyncSession], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``work`` in a session of the app's database, committed."""
    async with app.state.sessionmaker() as db, db.begin():
        return await work(db)


async def grant(app: FastAPI, grant_id: uuid.UUID) -> Grant:
    async def load(db: AsyncSession) -> Grant:
        found = await db.get(Grant, grant_id)
        assert found is not None
        return found
    result: Grant = await in_db(app, load)
    return result


def card(html: str, grant_id: uuid.UUID | str) -> str:
    """The HTML of one grant's card, from its opening tag to the start of the next top card."""
    start = html.index(f'id="grant-{grant_id}"')
    return html[start:]


async def test_page_shows_each_agent_in_plain_words_with_its_sub_agents(
        client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")

    page = await client.get("/agents")

    assert page.status_code == 200
    assert '<a href="/agents" aria-current="page">Agents</a>' in page.text
    planner = card(page.text, TRIP_PLANNER_GRANT)
    assert "Trip Planner" in planner
    assert "Web app · by Example Labs" in planner
    assert "trip-planner.example.com" in planner
    assert READ_CHAT in planner
    assert SEE_RIDES in planner
    assert re.search(r"Only these channels:</span>\s*<span class=\"chip\">design</span>", planner)
    assert "2 h ago" in planner
    # The sub-agent is nested in its parent's card, with its own (narrower) words.
    helper = card(planner, CALENDAR_HELPER_GRANT)
    assert "Calendar Helper" in helper
    assert SEE_RIDES not in helper
    assert 'name="csrf_token"' in helper


async def test_person_without_agents_sees_empty_sections(client: httpx.AsyncClient) -> None:
    await signed_in(client, "bob")

    page = await client.get("/agents")

    assert 'data-testid="no-agents"' in page.text
    assert 'data-testid="no-tokens"' in page.text
    assert "Trip Planner" not in page.text


async def test_api_tokens_are_listed_apart_with_revoke(app: FastAPI,
                                                       client: httpx.AsyncClient) -> None:
    token = await in_db(app, lambda db: make_grant(db, PEOPLE["alice"].id, None,
                                                   scope="chat:read", label="backup script"))
    await signed_in(client, "alice")

    page = (await client.get("/agents")).text

    tokens = page[page.index('id="tokens-title"'):]
    assert "backup script" in tokens
    assert f'action="/agents/{token.id}/revoke"' in tokens
    assert "backup script" not in page[:page.index('id="tokens-title"')]


async def test_narrow_form_offers_current_scopes_and_channels(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")

    page = await client.get(f"/agents/{TRIP_PLANNER_GRANT}/narrow")

    assert page.status_code == 200
    assert 'name="scope" value="chat:read" checked' in page.text
    assert 'name="scope" value="rides:read" checked' in page.text
    assert f'name="value:chat:channels" value="{DESIGN}" checked' in page.text
    # Only what it has: no other channel, no "every one" to widen to.
    assert GENERAL not in page.text
    assert 'name="limit:chat:channels"' not in page.text


async def test_narrowing_takes_a_scope_away(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")

    response = await client.post(f"/agents/{TRIP_PLANNER_GRANT}/narrow", data={
        "csrf_token": csrf, "scope": ["chat:read"], "constraint": "chat:channels",
        "value:chat:channels": [DESIGN]})

    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "Trip Planner now has less access" in page.text
    planner = card(page.text, TRIP_PLANNER_GRANT)
    assert READ_CHAT in planner
    assert SEE_RIDES not in planner
    narrowed = await grant(app, TRIP_PLANNER_GRANT)
    assert (narrowed.scope, narrowed.version) == ("chat:read", 2)
    assert (await grant(app, CALENDAR_HELPER_GRANT)).version == 1  # already within


async def test_narrowing_an_unlimited_agent_to_some_channels(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    async def connect(db: AsyncSession) -> Grant:
        return await make_grant(db, PEOPLE["alice"].id, await make_agent(db, "Note Taker"),
                                scope="chat:read")
    unlimited = await in_db(app, connect)
    csrf = await signed_in(client, "alice")
    form = (await client.get(f"/agents/{unlimited.id}/narrow")).text
    assert 'name="limit:chat:channels" value="all" checked' in form
    assert f'name="offered:chat:channels" value="{GENERAL}"' in form
    assert ">leadership<" in form  # the person's own channels, named by chat

    await client.post(f"/agents/{unlimited.id}/narrow", data={
        "csrf_token": csrf, "scope": ["chat:read"], "constraint": "chat:channels",
        "offered:chat:channels": [DESIGN, GENERAL], "value:chat:channels": [GENERAL]})

    assert (await grant(app, unlimited.id)).constraints == {"chat:channels": [GENERAL]}
    page = (await client.get("/agents")).text
    assert re.search(r'<span class="chip">general</span>', card(page, unlimited.id))


async def test_keeping_every_channel_ticked_keeps_the_agent_unlimited(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    unlimited = await in_db(app, lambda db: make_grant(db, PEOPLE["alice"].id, None,
                                                       scope="chat:read chat:write"))
    csrf = await signed_in(client, "alice")

    await client.post(f"/agents/{unlimited.id}/narrow", data={
        "csrf_token": csrf, "scope": ["chat:read"], "constraint": "chat:channels",
        "limit:chat:channels": "all", "offered:chat:channels": [DESIGN, GENERAL],
        "value:chat:channels": [DESIGN, GENERAL]})

    after = await grant(app, unlimited.id)
    assert (after.scope, after.constraints) == ("chat:read", {})


@pytest.mark.parametrize("widening", [
    {"scope": ["chat:read", "chat:write"], "constraint": "chat:channels",
     "value:chat:channels": [DESIGN]},
    {"scope": ["chat:read"], "constraint": "chat:channels",
     "value:chat:channels": [DESIGN, GENERAL]},
    {"scope": ["chat:read"], "constraint": "chat:channels", "limit:chat:channels": "all"},
])
async def test_widening_is_refused_and_changes_nothing(
        app: FastAPI, client: httpx.AsyncClient, widening: dict[str, Any]) -> None:
    csrf = await signed_in(client, "alice")

    response = await client.post(f"/agents/{TRIP_PLANNER_GRANT}/narrow",
                                 data={"csrf_token": csrf, **widening})

    assert response.status_code == 403
    assert 'data-problem-type="widening-refused"' in response.text
    unchanged = await grant(app, TRIP_PLANNER_GRANT)
    assert (unchanged.scope, unchanged.constraints, unchanged.version) == (
        "chat:read rides:read", {"chat:channels": [DESIGN]}, 1)


async def test_revoking_removes_the_agent_and_its_sub_agents(
        app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")
    page = (await client.get("/agents")).text
    assert "Yes, revoke" in card(page, TRIP_PLANNER_GRANT)

    response = await client.post(f"/agents/{TRIP_PLANNER_GRANT}/revoke",
                                 data={"csrf_token": csrf})

    assert response.status_code == 303
    after = await client.get(response.headers["location"])
    assert "Access revoked" in after.text
    assert "Trip Planner" not in after.text
    assert "Calendar Helper" not in after.text
    for grant_id in (TRIP_PLANNER_GRANT, CALENDAR_HELPER_GRANT):
        assert (await grant(app, grant_id)).revoked_at is not None
    rows = await in_db(app, lambda db: db.scalar(
        select(func.count()).select_from(Revocation).where(Revocation.min_version == 0)))
    assert rows == 2


async def test_a_sub_agent_can_be_revoked_alone(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(client, "alice")

    await client.post(f"/agents/{CALENDAR_HELPER_GRANT}/revoke", data={"csrf_token": csrf})

    page = (await client.get("/agents")).text
    assert "Trip Planner" in page
    assert "Calendar Helper" not in page


async def test_another_persons_grant_is_not_found(app: FastAPI, client: httpx.AsyncClient,
                                                  other_client: httpx.AsyncClient) -> None:
    async def bobs_grant(db: AsyncSession) -> Grant:
        parent = await make_grant(db, PEOPLE["bob"].id, await make_agent(db, "Bob's bot"))
        await make_sub_grant(db, parent, await make_agent(db, "Bob's helper"))
        return parent
    bobs = await in_db(app, bobs_grant)
    csrf = await signed_in(client, "alice")

    for method, path, data in (
            ("GET", f"/agents/{bobs.id}/narrow", None),
            ("POST", f"/agents/{bobs.id}/narrow", {"csrf_token": csrf, "scope": ["chat:read"]}),
            ("POST", f"/agents/{bobs.id}/revoke", {"csrf_token": csrf})):
        response = await client.request(method, path, data=data)
        assert response.status_code == 404, path
    assert "Bob&#39;s bot" not in (await client.get("/agents")).text
    after = await grant(app, bobs.id)
    assert (after.revoked_at, after.version) == (None, 1)
    await signed_in(other_client, "bob")
    assert "Bob&#39;s bot" in (await other_client.get("/agents")).text


@pytest.mark.parametrize("action", ["narrow", "revoke"])
async def test_forms_without_the_csrf_token_are_refused(
        app: FastAPI, client: httpx.AsyncClient, action: str) -> None:
    await signed_in(client, "alice")

    response = await client.post(f"/agents/{TRIP_PLANNER_GRANT}/{action}",
                                 data={"scope": ["chat:read"]})

    assert response.status_code == 403
    assert 'data-problem-type="csrf-failed"' in response.text
    unchanged = await grant(app, TRIP_PLANNER_GRANT)
    assert (unchanged.revoked_at, unchanged.version) == (None, 1)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/agents"),
    ("GET", f"/agents/{TRIP_PLANNER_GRANT}/narrow"),
    ("POST", f"/agents/{TRIP_PLANNER_GRANT}/revoke"),
])
async def test_signed_out_people_are_sent_to_sign_in(
        app: FastAPI, client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert (await grant(app, TRIP_PLANNER_GRANT)).revoked_at is None


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/agents"),
    ("GET", f"/agents/{TRIP_PLANNER_GRANT}/narrow"),
    ("POST", f"/agents/{TRIP_PLANNER_GRANT}/narrow"),
    ("POST", f"/agents/{TRIP_PLANNER_GRANT}/revoke"),
])
async def test_a_token_never_reaches_these_pages_whatever_its_scopes(
        app: FastAPI, client: httpx.AsyncClient, method: str, path: str) -> None:
    alice = PEOPLE["alice"]
    # What bearer authentication will resolve: alice herself, through a token.
    app.dependency_overrides[optional_principal] = lambda: Principal(
        user_id=alice.id, username=alice.username, display_name=alice.display_name,
        scopes=app.state.services.person_scopes(), via="token")
    try:
        response = await client.request(method, path)
    finally:
        app.dependency_overrides.clear()

    assert response.status_code == 403
    assert 'data-problem-type="people-only"' in response.text
    assert (await grant(app, TRIP_PLANNER_GRANT)).revoked_at is None


async def test_chat_pages_link_to_agents(client: httpx.AsyncClient) -> None:
    await signed_in(client, "alice")

    page = await client.get("/chat")

    assert '<a href="/agents" >Agents</a>' in page.text
