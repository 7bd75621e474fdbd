"""The template filters: service data always shows as text, never as markup."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.web.formatting import message_html, money, since, snippet_html, time_tag

NOW = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)


def test_message_text_is_escaped() -> None:
    assert str(message_html("<script>x()</script> & co")) == (
        "&lt;script&gt;x()&lt;/script&gt; &amp; co")


def test_only_mentions_the_service_recognised_are_highlighted() -> None:
    html = str(message_html("@bob and @nobody, ask @Alice.", ["alice", "bob"], me="alice"))

    assert html == ('<span class="mention">@bob</span> and @nobody, ask '
                    '<span class="mention me">@Alice</span>.')


def test_an_email_address_is_not_a_mention() -> None:
    assert str(message_html("mail me@bob.example", ["bob"])) == "mail me@bob.example"


def test_snippet_keeps_mark_tags_and_nothing_else() -> None:
    snippet = "a &lt;b&gt; <mark>launch</mark> <img src=x onerror=alert(1)>"

    assert str(snippet_html(snippet)) == (
        "a &lt;b&gt; <mark>launch</mark> &lt;img src=x onerror=alert(1)&gt;")


@pytest.mark.parametrize(("value", "shown"), [
    ({"amount": 2340, "currency": "EUR"}, "23.40 EUR"),
    ({"amount": 7, "currency": "EUR"}, "0.07 EUR"),
    ({"amount": 123456, "currency": "USD"}, "1,234.56 USD"),
    (None, ""),
])
def test_money_is_minor_units(value: dict[str, object] | None, shown: str) -> None:
    assert money(value) == shown


@pytest.mark.parametrize(("seconds", "said"), [
    (5, "just now"), (300, "5 min ago"), (7200, "2 h ago"), (86400, "yesterday"),
    (3 * 86400, "3 days ago"),
])
def test_since_says_how_long_ago(seconds: int, said: str) -> None:
    assert since((NOW - dt.timedelta(seconds=seconds)).isoformat(), NOW) == said


def test_since_a_missing_time_is_never() -> None:
    assert since(None, NOW) == "never"


def test_time_tag_is_machine_readable_utc() -> None:
    tag = str(time_tag("2025-03-03T13:05:00+01:00"))

    assert tag.startswith('<time datetime="2025-03-03T12:05:00+00:00" data-style="time"')
    assert tag.endswith(">12:05</time>")
