"""One short sentence per call, for people: "Trip Planner read 12 messages in #design (peek...)".

Built from the operation, the mode and the service's answer (how many items came
back; a channel's title when the answer, or an earlier answer to the same person,
named it). A summary is a courtesy, never a reason to fail: anything unexpected in a
response falls back to the operation's own summary line.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_SUMMARY = 500
# Parsing a huge body for a count is not worth it; the generic sentence will do.
MAX_PARSED_BYTES = 1_000_000


@dataclass(frozen=True)
class Outcome:
    """What the summariser knows about one finished (or refused) call."""

    actor: str
    service: str
    operation_id: str | None
    operation_summary: str
    method: str
    path: str
    path_params: dict[str, str]
    effects: str | None
    on_read: tuple[str, ...]
    status: int
    problem_slug: str | None
    problem_detail: str | None
    missing_scopes: tuple[str, ...]
    content_type: str
    content: bytes


class ChannelTitles:
    """Channel titles seen in a person's earlier answers, so a later read can name its channel.

    Keyed by (person, channel): a DM's title depends on who looks, and a private
    channel's name must never leak into someone else's record. A public channel's
    title is the same for everyone and in everyone's directory, so it is also kept
    under no person, for whoever reads that channel next. Bounded (LRU).
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._titles: OrderedDict[tuple[uuid.UUID | None, str], str] = OrderedDict()

    def get(self, person: uuid.UUID | None, channel_id: str | None) -> str | None:
        if channel_id is None:
            return None
        for key in ((person, channel_id), (None, channel_id)):
            title = self._titles.get(key)
            if title is not None:
                self._titles.move_to_end(key)
                return title
        return None

    def learn(self, person: uuid.UUID | None, body: Any) -> None:
        """Remember every (id, title) pair an answer carries (channels, search hits)."""
        for channel in _channels_in(body):
            keys = [(person, str(channel["id"]))]
            if channel.get("kind") == "public":
                keys.append((None, str(channel["id"])))
            name = channel.get("name")
            title = f"#{name}" if isinstance(name, str) and name else str(channel["title"])
            for key in keys:
                self._titles[key] = title
                self._titles.move_to_end(key)
        while len(self._titles) > self.size:
            self._titles.popitem(last=False)


def _channels_in(body: Any) -> list[dict[str, Any]]:
    def is_channel(doc: Any) -> bool:
        return isinstance(doc, dict) and "id" in doc and isinstance(doc.get("title"), str)

    found = []
    if is_channel(body) and "kind" in body:
        found.append(body)
    items = body.get("items") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else []:
        if is_channel(item) and "kind" in item:
            found.append(item)
        elif isinstance(item, dict) and is_channel(item.get("channel")):
            found.append(item["channel"])
    return found


def _count(body: Any, key: str = "items") -> int | None:
    if isinstance(body, dict) and isinstance(body.get(key), list):
        return len(body[key])
    return None


def _plural(n: int | None, one: str, many: str | None = None) -> str:
    if n is None:
        return many or one + "s"
    return f"{n} {one if n == 1 else (many or one + 's')}"


Phrase = Callable[[Any, str], str]

# What each known operation did, as a verb phrase. ``where`` is " in #design" or "".
_PHRASES: dict[str, Phrase] = {
    "list_channels": lambda b, w: f"listed {_plural(_count(b), 'channel')}",
    "create_channel": lambda b, w: f"created the channel{w.replace(' in', '')}",
    "get_channel": lambda b, w: f"opened the channel{w.replace(' in', '')}",
    "join_channel": lambda b, w: f"joined{w.replace(' in', '') or ' a channel'}",
    "add_channel_members": lambda b, w: f"added members{w.replace(' in', ' to')}",
    "list_messages": lambda b, w: f"read {_plural(_count(b), 'message')}{w}",
    "post_message": lambda b, w: f"posted a message{w}",
    "get_thread":
        lambda b, w: f"read a thread ({_plural(_count(b, 'replies'), 'reply', 'replies')}){w}",
    "mark_channel_read": lambda b, w: f"marked{w.replace(' in', '') or ' a channel'} read",
    "search_messages": lambda b, w: f"searched the messages ({_plural(_count(b), 'result')})",
    "list_mentions": lambda b, w: f"read {_plural(_count(b), 'mention')}",
    "list_users": lambda b, w: f"listed {_plural(_count(b), 'person', 'people')}",
    "open_direct_message": lambda b, w: "opened a direct message",
    "search_places": lambda b, w: f"searched places ({_plural(_count(b), 'result')})",
    "get_place": lambda b, w: "looked up a place",
    "create_quote": lambda b, w: f"got a ride quote{_price(b, 'price')}",
    "book_trip": lambda b, w: f"booked a trip{_price(b, 'fare')}",
    "list_trips": lambda b, w: f"listed {_plural(_count(b), 'trip')}",
    "get_trip": lambda b, w: "looked at a trip",
    "cancel_trip": lambda b, w: "cancelled a trip",
}
# What a dry-run would have done: the same phrase, in the conditional.
_WOULD = {"posted": "would have posted", "booked": "would have booked",
          "created": "would have created", "cancelled": "would have cancelled",
          "added": "would have added", "joined": "would have joined",
          "marked": "would have marked", "opened a direct": "would have opened a direct"}


def _price(body: Any, key: str) -> str:
    money = body.get(key) if isinstance(body, dict) else None
    if isinstance(money, dict) and isinstance(money.get("amount"), int):
        return f" for {money['amount'] / 100:.2f} {money.get('currency', '')}".rstrip()
    return ""


def _mode_note(effects: str | None, on_read: tuple[str, ...], safe: bool) -> str:
    if effects == "peek" and safe:
        if "read_position" in on_read:
            return " (peek: nothing marked read)"
        return " (peek: no side effects)" if on_read else " (peek)"
    if effects == "dry-run":
        return " (dry-run: nothing stored or sent)"
    if effects == "live" and safe and "read_position" in on_read:
        return " (marked read)"
    return ""


def summarize(outcome: Outcome, titles: ChannelTitles, person: uuid.UUID | None) -> str:
    """The sentence for one call; never raises (a fallback covers what it can't read)."""
    try:
        text = _summarize(outcome, titles, person)
    except Exception:  # a summary must never cost the record its entry
        text = f"{outcome.actor} called {outcome.method} /api/{outcome.service}{outcome.path}"
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY - 1] + "…"


def _summarize(outcome: Outcome, titles: ChannelTitles, person: uuid.UUID | None) -> str:
    actor = outcome.actor
    body = _json(outcome)
    if outcome.status >= 400:
        return _failure(outcome, body)
    titles.learn(person, body)
    channel = titles.get(person, outcome.path_params.get("channel_id"))
    where = f" in {channel}" if channel else ""
    phrase = _PHRASES.get(outcome.operation_id or "")
    if phrase is None:
        what = (outcome.operation_summary or outcome.operation_id or "a call").rstrip(".")
        text = f"{actor} called {outcome.service}: {what[:1].lower()}{what[1:]}"
    else:
        verb = phrase(body, where)
        if outcome.effects == "dry-run":
            for done, would in _WOULD.items():
                if verb.startswith(done):
                    verb = would + verb[len(done):]
                    break
        text = f"{actor} {verb}"
    safe = outcome.method in ("GET", "HEAD", "OPTIONS")
    return text + _mode_note(outcome.effects, outcome.on_read, safe)


def _failure(outcome: Outcome, body: Any) -> str:
    actor = outcome.actor
    detail = outcome.problem_detail
    if detail is None and isinstance(body, dict) and isinstance(body.get("detail"), str):
        detail = body["detail"]
    if outcome.missing_scopes:
        return f"{actor} was refused: missing scope {' '.join(outcome.missing_scopes)}"
    if outcome.operation_id is None:
        return (f"{actor} was refused: no such operation, {outcome.method} "
                f"/api/{outcome.service}{outcome.path}")
    what = outcome.operation_id.replace("_", " ")
    reason = detail or (outcome.problem_slug or "error").replace("-", " ")
    if outcome.status in (401, 403):
        return f"{actor} was refused ({what}): {reason}"
    return f"{actor}'s call failed ({what}, {outcome.status}): {reason}"


def _json(outcome: Outcome) -> Any:
    if "json" not in outcome.content_type or len(outcome.content) > MAX_PARSED_BYTES:
        return None
    try:
        return json.loads(outcome.content) if outcome.content else None
    except ValueError:
        return None
