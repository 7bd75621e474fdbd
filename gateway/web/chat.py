"""The chat pages: channels and DMs, a channel's messages, threads, search.

Each page is a client of the chat API, called through the pipeline as the signed-in
person (so live): opening a channel marks it read because the *service* does that
on a live read of its newest page, exactly as it would for the person's own API call.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.auth import CurrentPrincipal, check_csrf
from gateway.principal import Principal
from gateway.web.client import PageClient
from gateway.web.pages import render
from services.common.problems import Problem

router = APIRouter(prefix="/chat")

SERVICE = "chat"
PAGE_SIZE = 50
# The sidebar follows the channel list's cursor this many pages at most (200 channels each).
SIDEBAR_PAGES = 5


@dataclass
class Sidebar:
    """What the chat sidebar lists, grouped the way a person scans it."""

    channels: list[dict[str, Any]] = field(default_factory=list)
    direct: list[dict[str, Any]] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)
    # The people directory, with each person's "last seen".
    directory: list[dict[str, Any]] = field(default_factory=list)
    # Directory entries by display name, for the "last seen" of a one-to-one DM.
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: str | None = None

    def presence(self, channel: dict[str, Any]) -> dict[str, Any] | None:
        """The other person of a one-to-one DM (its title is their name), if known."""
        return self.people.get(channel["title"]) if channel["kind"] == "dm" else None


async def _collect(client: PageClient, path: str, *, pages: int, **params: Any) -> list[Any]:
    """Follow a list's ``next_cursor`` for up to ``pages`` pages and return all items."""
    items: list[Any] = []
    cursor = None
    for _ in range(pages):
        page = await client.get(SERVICE, path, cursor=cursor, **params)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return items


async def load_sidebar(client: PageClient, current: uuid.UUID | None = None) -> Sidebar:
    """Fetch the channel list (with the caller's unread and mention counts) and presence."""
    sidebar = Sidebar(current=str(current) if current else None)
    for channel in await _collect(client, "/channels", pages=SIDEBAR_PAGES, limit=200):
        if channel["kind"] == "dm":
            sidebar.direct.append(channel)
        elif channel["is_member"]:
            sidebar.channels.append(channel)
        else:
            sidebar.others.append(channel)
    # Channels by name, as people look them up; conversations by their latest message.
    sidebar.channels.sort(key=lambda c: c["title"])
    sidebar.others.sort(key=lambda c: c["title"])
    sidebar.direct.sort(key=lambda c: c["last_message_at"] or "", reverse=True)
    sidebar.directory = await _collect(client, "/users", pages=SIDEBAR_PAGES, limit=200)
    # A DM's title is a display name; only unambiguous names get a presence line.
    names = Counter(u["name"] for u in sidebar.directory)
    sidebar.people = {u["name"]: u for u in sidebar.directory if names[u["name"]] == 1}
    return sidebar


def _render(request: Request, principal: Principal, template: str, context: dict[str, Any],
            *, status_code: int = 200) -> HTMLResponse:
    return render(request, principal, "chat", template, context, status_code=status_code)


@router.get("")
async def chat_home(request: Request, principal: CurrentPrincipal) -> HTMLResponse:
    """Show the channels and DMs with their unread badges."""
    client = PageClient(request, principal)
    return _render(request, principal, "chat/home.html",
                   {"sidebar": await load_sidebar(client)})


@router.get("/search")
async def search(request: Request, principal: CurrentPrincipal, q: str = "") -> HTMLResponse:
    """Search the messages the person can see."""
    client = PageClient(request, principal)
    query = q.strip()[:200]
    hits = []
    if query:
        hits = (await client.get(SERVICE, "/search", q=query, limit=PAGE_SIZE))["items"]
    return _render(request, principal, "chat/search.html",
                   {"sidebar": await load_sidebar(client), "q": query, "hits": hits})


async def _channel_page(request: Request, principal: Principal, channel_id: uuid.UUID, *,
                        before: str | None = None, draft: str = "", error: str | None = None,
                        status_code: int = 200) -> HTMLResponse:
    client = PageClient(request, principal)
    path = f"/channels/{channel_id}"
    channel = await client.get(SERVICE, path)
    # Read the messages *before* the sidebar: the live read is what clears this
    # channel's badge, and the sidebar should show the counts after it.
    page = await client.get(SERVICE, f"{path}/messages", cursor=before, limit=PAGE_SIZE)
    sidebar = await load_sidebar(client, channel_id)
    return _render(request, principal, "chat/channel.html", {
        "sidebar": sidebar,
        "channel": channel,
        "messages": list(reversed(page["items"])),  # the API pages newest first
        "older": page["next_cursor"],
        "paged": before is not None,
        "draft": draft,
        "error": error,
    }, status_code=status_code)


@router.get("/{channel_id:uuid}")
async def channel(request: Request, principal: CurrentPrincipal, channel_id: uuid.UUID,
                  before: str | None = None) -> HTMLResponse:
    """Show a channel's messages, newest at the bottom; reading it marks it read."""
    return await _channel_page(request, principal, channel_id, before=before)


@router.post("/{channel_id:uuid}/messages", response_model=None)
async def post_message(
    request: Request,
    principal: CurrentPrincipal,
    channel_id: uuid.UUID,
    text: Annotated[str, Form()] = "",
    thread_id: Annotated[int | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Post a message (or a thread reply), then show the channel (or the thread) again."""
    check_csrf(request, principal, csrf_token)
    client = PageClient(request, principal)
    body: dict[str, Any] = {"text": text}
    if thread_id is not None:
        body["thread_id"] = thread_id
    try:
        await client.post(SERVICE, f"/channels/{channel_id}/messages", body)
    except Problem as problem:
        if problem.status != 422:
            raise
        # Invalid text (blank, too long): show why, and keep what the person typed.
        if thread_id is not None:
            return await _thread_page(request, principal, channel_id, thread_id, draft=text,
                                      error=_reason(problem), status_code=422)
        return await _channel_page(request, principal, channel_id, draft=text,
                                   error=_reason(problem), status_code=422)
    target = f"/chat/{channel_id}"
    if thread_id is not None:
        target += f"/threads/{thread_id}"
    return RedirectResponse(f"{target}#latest", status_code=303)


@router.post("/{channel_id:uuid}/join")
async def join(request: Request, principal: CurrentPrincipal, channel_id: uuid.UUID,
               csrf_token: Annotated[str, Form()] = "") -> RedirectResponse:
    """Join a public channel, then show it."""
    check_csrf(request, principal, csrf_token)
    await PageClient(request, principal).post(SERVICE, f"/channels/{channel_id}/join")
    return RedirectResponse(f"/chat/{channel_id}", status_code=303)


@router.post("/dms")
async def open_dm(request: Request, principal: CurrentPrincipal,
                  username: Annotated[str, Form()] = "",
                  csrf_token: Annotated[str, Form()] = "") -> RedirectResponse:
    """Open (or find) the direct conversation with someone, then show it."""
    check_csrf(request, principal, csrf_token)
    dm = await PageClient(request, principal).post(SERVICE, "/dms", {"usernames": [username]})
    return RedirectResponse(f"/chat/{dm['id']}", status_code=303)


async def _thread_page(request: Request, principal: Principal, channel_id: uuid.UUID,
                       message_id: int, *, draft: str = "", error: str | None = None,
                       status_code: int = 200) -> HTMLResponse:
    client = PageClient(request, principal)
    path = f"/channels/{channel_id}"
    channel = await client.get(SERVICE, path)
    thread = await client.get(SERVICE, f"{path}/threads/{message_id}", limit=200)
    return _render(request, principal, "chat/thread.html", {
        "sidebar": await load_sidebar(client, channel_id),
        "channel": channel,
        "thread": thread,
        "draft": draft,
        "error": error,
    }, status_code=status_code)


@router.get("/{channel_id:uuid}/threads/{message_id:int}")
async def thread(request: Request, principal: CurrentPrincipal, channel_id: uuid.UUID,
                 message_id: int) -> HTMLResponse:
    """Show a message's thread with a reply form."""
    return await _thread_page(request, principal, channel_id, message_id)


def _reason(problem: Problem) -> str:
    """Say in one line why the service refused a message."""
    errors = problem.extra.get("errors") or []
    messages = [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
    return "; ".join(m for m in messages if m) or problem.detail or problem.title

