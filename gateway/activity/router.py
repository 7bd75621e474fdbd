"""The Activity page: what was done with a person's account, by them and by their agents.

People-only (``PersonSession``): an agent must not read (or learn to hide from) the
record of what it did, and neither may a script holding the person's API token.
Only the person's own entries are ever read. Newest first, paginated by sequence
number (a keyset: stable while new entries arrive), filterable by agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from gateway.activity.models import ActivityEntry
from gateway.activity.recorder import ActivityRecorder
from gateway.db import SessionDep
from gateway.identity.auth import PersonSession
from gateway.principal import Principal
from gateway.web.pages import render

router = APIRouter()

PAGE_SIZE = 50
JUST_ME = "me"


@dataclass(frozen=True)
class Row:
    """One entry, as the page shows it."""

    entry: ActivityEntry
    who: str
    mode: str | None
    outcome: str
    ok: bool


@dataclass(frozen=True)
class AgentChoice:
    value: str
    name: str


def who(entry: ActivityEntry) -> str:
    """Who acted, from the person's side: "You", "Trip Planner for you", "A via B for you".

    A call that came in through the MCP endpoint says so: "Trip Planner for you (over MCP)".
    """
    over = " (over MCP)" if entry.via == "mcp" else ""
    if not entry.actors:
        return ("You, with an API token" if entry.via in ("token", "mcp") else "You") + over
    names = [str(a.get("name") or "An agent") for a in entry.actors]
    return " via ".join(names) + " for you" + over


def outcome(entry: ActivityEntry) -> tuple[str, bool]:
    if entry.status < 400:
        return "done", True
    kind = "refused" if entry.status in (401, 403, 404, 405) else "failed"
    detail = f" ({entry.problem_type.replace('-', ' ')})" if entry.problem_type else ""
    return f"{kind}, {entry.status}{detail}", False


async def _agents(db: SessionDep, principal: Principal) -> list[AgentChoice]:
    """The agents that acted for the person, each named as in its latest entry."""
    latest = (select(func.max(ActivityEntry.seq))
              .where(ActivityEntry.user_id == principal.user_id,
                     ActivityEntry.agent_sub.is_not(None))
              .group_by(ActivityEntry.agent_sub))
    entries = (await db.scalars(select(ActivityEntry).where(ActivityEntry.seq.in_(latest)))).all()
    choices = {e.agent_sub: str(e.actors[0].get("name") or e.agent_sub) for e in entries
               if e.agent_sub and e.actors}
    return sorted((AgentChoice(k, v) for k, v in choices.items()), key=lambda c: c.name.lower())


@router.get("/activity")
async def activity_page(request: Request, principal: PersonSession, db: SessionDep,
                        agent: str = "", before: int | None = None) -> HTMLResponse:
    """Show what you and your agents did, newest first."""
    recorder: ActivityRecorder = request.app.state.activity
    # The record is written off the request path; wait for what is queued so the page
    # shows the call that happened a moment ago. Then end the read transaction that
    # authentication began: on SQLite its snapshot predates those writes.
    await recorder.flush()
    await db.commit()
    query = select(ActivityEntry).where(ActivityEntry.user_id == principal.user_id)
    if agent == JUST_ME:
        query = query.where(ActivityEntry.agent_sub.is_(None))
    elif agent:
        query = query.where(ActivityEntry.agent_sub == agent)
    if before is not None:
        query = query.where(ActivityEntry.seq < before)
    entries = list((await db.scalars(
        query.order_by(ActivityEntry.seq.desc()).limit(PAGE_SIZE + 1))).all())
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    rows = [Row(e, who(e), e.effects, *outcome(e)) for e in entries]
    older: str | None = None
    if more:
        params: dict[str, Any] = {"before": entries[-1].seq}
        if agent:
            params["agent"] = agent
        older = "/activity?" + urlencode(params)
    return render(request, principal, "activity", "activity/index.html", {
        "rows": rows, "agents": await _agents(db, principal), "agent": agent,
        "just_me": JUST_ME, "older": older, "newest": "/activity" + (
            "?" + urlencode({"agent": agent}) if agent else "") if before is not None else None,
    })
