"""Reading the person's chat without touching it, and replying as "the person via the agent".

- **Peek.** An agent's reads are peeks by default (``Preference-Applied: peek``):
  no read marks, no receipts, no "last seen". The person's unread badges stay as
  they were; the agent sends ``Prefer: peek`` anyway, to say what it means.
- **Its own cursor.** ``GET /api/chat/channels/{id}/new`` returns what is new since
  *this agent's* cursor, kept by the chat service per (person, agent, channel), apart
  from the person's read position. The agent handles the messages, then moves its
  cursor with ``PUT /api/chat/channels/{id}/cursor``; a crash in between re-reads
  rather than loses messages. The next run starts where this one stopped.
- **A summary without a language model**: counts per channel, who wrote, who was
  mentioned, how many lines. Deterministic, so it can be tested.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

PAGE = 100


@dataclass
class ChannelNews:
    """What is new in one channel since the agent's cursor."""

    id: str
    title: str
    unread_for_person: int
    messages: list[dict[str, Any]] = field(default_factory=list)


async def channels(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every channel the token lets the agent see (following ``next_cursor``)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        response = await http.get("/api/chat/channels", params=params,
                                  headers={"Prefer": "peek"})
        response.raise_for_status()
        body = response.json()
        found += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return found


async def new_in(http: httpx.AsyncClient, channel: dict[str, Any]) -> ChannelNews:
    """The messages after the agent's cursor in one channel, oldest first (all pages)."""
    news = ChannelNews(channel["id"], channel["title"], channel["unread_count"])
    after: int | None = None
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if after is not None:
            params["after"] = after
        response = await http.get(f"/api/chat/channels/{channel['id']}/new", params=params,
                                  headers={"Prefer": "peek"})
        response.raise_for_status()
        body = response.json()
        news.messages += body["items"]
        if not body["has_more"] or not body["items"]:
            return news
        after = body["items"][-1]["id"]


async def whats_new(http: httpx.AsyncClient) -> list[ChannelNews]:
    """What is new since the agent's own cursor, in every channel it may see."""
    return [await new_in(http, channel) for channel in await channels(http)]


async def advance_cursors(http: httpx.AsyncClient, news: list[ChannelNews]) -> int:
    """Move the agent's cursor past what it handled; return how many channels moved."""
    moved = 0
    for channel in news:
        if not channel.messages:
            continue
        response = await http.put(f"/api/chat/channels/{channel.id}/cursor",
                                  json={"message_id": channel.messages[-1]["id"]})
        response.raise_for_status()
        moved += 1
    return moved


@dataclass(frozen=True)
class Summary:
    """What the agent read, counted."""

    messages: int
    lines: int
    per_channel: dict[str, int]
    authors: dict[str, int]
    mentions: dict[str, int]

    def text(self) -> list[str]:
        """The summary as the agent prints it: one line each, biggest first."""
        if not self.messages:
            return ["nothing new since my last look"]
        return [
            f"{self.messages} new message(s), {self.lines} line(s)",
            "per channel: " + _ranked(self.per_channel),
            "who wrote: " + _ranked(self.authors),
            "mentions: " + (_ranked({f"@{k}": v for k, v in self.mentions.items()})
                            or "none"),
        ]


def _ranked(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in
                     sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def summarize(news: list[ChannelNews]) -> Summary:
    """Count what was read: per channel, per author, per mention, and lines of text."""
    per_channel: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    lines = 0
    for channel in news:
        for message in channel.messages:
            per_channel[channel.title] += 1
            authors[message["author"]["name"]] += 1
            mentions.update(message.get("mentions") or [])
            lines += len(message["text"].splitlines()) or 1
    return Summary(messages=sum(per_channel.values()), lines=lines,
                   per_channel=dict(per_channel), authors=dict(authors),
                   mentions=dict(mentions))


async def reply(http: httpx.AsyncClient, channel_id: str, text: str) -> dict[str, Any]:
    """Post in a channel for the person (``chat:write``); it shows as "<person> via <agent>"."""
    response = await http.post(f"/api/chat/channels/{channel_id}/messages", json={"text": text})
    response.raise_for_status()
    message: dict[str, Any] = response.json()
    return message
