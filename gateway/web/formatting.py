"""Template filters: how the pages show money, times and message text.

Everything a service sends is data, never markup: text is escaped here (Jinja2
autoescapes too), and the two filters that *return* markup build it from escaped
pieces, so a message containing ``<script>`` shows as text.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zlib
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

from gateway.payments.mandates import money as _amount_in

# ``@username`` in message text, as the chat service finds it (a trailing "." ends a sentence).
_MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9_.-]{0,39})", re.IGNORECASE)
_MARK_TAG = re.compile(r"(</?mark>)")


def parse_time(value: str | dt.datetime | None) -> dt.datetime | None:
    """Read an RFC 3339 timestamp from a service's JSON (always UTC-aware)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def money(value: dict[str, Any] | None) -> str:
    """``{"amount": 2340, "currency": "EUR"}`` -> ``23.40 EUR`` (amounts are minor units)."""
    if not value:
        return ""
    return f"{int(value['amount']) / 100:,.2f} {value['currency']}"


def price(amount: int, currency: str) -> str:
    """``1240, "EUR"`` -> ``12.40 EUR``: a ledger amount (minor units, the currency's decimals)."""
    return _amount_in(amount, currency)


def time_tag(value: str | dt.datetime | None, style: str = "time") -> Markup:
    """A ``<time>`` element in UTC; static/app.js rewrites it in the reader's time zone.

    ``style`` is ``time`` (14:05), ``date`` (3 Mar 2025) or ``datetime`` (both).
    """
    moment = parse_time(value)
    if moment is None:
        return Markup("")
    moment = moment.astimezone(dt.UTC)
    formats = {"time": "%H:%M", "date": "%-d %b %Y", "datetime": "%-d %b %Y, %H:%M"}
    shown = moment.strftime(formats.get(style, formats["datetime"]))
    return Markup('<time datetime="{}" data-style="{}" title="{} UTC">{}</time>').format(
        moment.isoformat(), style, moment.strftime("%Y-%m-%d %H:%M"), shown)


def since(value: str | dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago, in words: ``just now``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    moment = parse_time(value)
    if moment is None:
        return "never"
    seconds = int(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return "yesterday" if days == 1 else f"{days} days ago"


def until(value: str | dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long from now, in words: ``in 14 min``, ``in 2 h``, ``in 3 days``; ``now`` if past."""
    moment = parse_time(value)
    if moment is None:
        return "never"
    seconds = int((moment - (now or dt.datetime.now(dt.UTC))).total_seconds())
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return "in less than a minute"
    if seconds < 3600:
        return f"in {seconds // 60} min"
    if seconds < 86400:
        return f"in {seconds // 3600} h"
    return f"in {seconds // 86400} days"


def message_html(text: str, mentions: Iterable[str] = (), me: str | None = None) -> Markup:
    """Escape a message and highlight the ``@mentions`` the service recognised.

    Only names the service listed in ``mentions`` are highlighted (so an
    ``@nobody`` stays plain text); a mention of the reader gets the ``me`` class.
    """
    known = {m.lower() for m in mentions}
    escaped = str(escape(text))

    def highlight(match: re.Match[str]) -> str:
        name = match.group(1).rstrip(".")
        if name.lower() not in known:
            return match.group(0)
        css = "mention me" if me is not None and name.lower() == me.lower() else "mention"
        rest = match.group(1)[len(name):]
        return f'<span class="{css}">@{name}</span>{rest}'

    # Safe: the input is already escaped and the replacement adds only our own span.
    return Markup(_MENTION.sub(highlight, escaped))  # noqa: S704


def snippet_html(snippet: str) -> Markup:
    """Re-escape a search snippet, keeping only its ``<mark>`` tags.

    The service promises escaped text with matches in ``<mark>``; the page does not
    take markup on trust from another component, so it rebuilds the snippet from
    text pieces and the one tag it allows.
    """
    pieces = []
    for part in _MARK_TAG.split(snippet):
        if part in ("<mark>", "</mark>"):
            pieces.append(Markup(part))  # noqa: S704 - a literal tag we allow
        else:
            pieces.append(escape(html.unescape(part)))
    return Markup("").join(pieces)


def hue(name: str) -> int:
    """A stable colour (an HSL hue) per person, for their avatar."""
    return zlib.crc32(name.encode()) % 360


FILTERS = {
    "hue": hue,
    "money": money,
    "price": price,
    "time_tag": time_tag,
    "since": since,
    "until": until,
    "message_html": message_html,
    "snippet_html": snippet_html,
}
