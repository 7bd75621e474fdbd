"""Summaries: one sentence per call, in the mode it ran in, and never a reason to fail."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from gateway.activity.summaries import ChannelTitles, Outcome, summarize

ALICE, BOB = uuid.uuid4(), uuid.uuid4()
DESIGN, DM = str(uuid.uuid4()), str(uuid.uuid4())
READ_EFFECTS = ("read_position", "read_receipt", "presence", "mention_ack")


def outcome(operation_id: str, body: Any = None, *, method: str = "GET", effects: str = "live",
            status: int = 200, channel: str | None = DESIGN, **changes: Any) -> Outcome:
    return dataclasses.replace(Outcome(
        actor="Trip Planner", service="chat", operation_id=operation_id, operation_summary="",
        method=method, path="/x", path_params={"channel_id": channel} if channel else {},
        effects=effects, on_read=READ_EFFECTS if method == "GET" else (), status=status,
        problem_slug=None, problem_detail=None, missing_scopes=(),
        content_type="application/json", content=json.dumps(body).encode()), **changes)


def titles_after_listing() -> ChannelTitles:
    titles = ChannelTitles()
    summarize(outcome("list_channels", {"items": [
        {"id": DESIGN, "kind": "public", "name": "design", "title": "design"},
        {"id": DM, "kind": "dm", "name": None, "title": "Bob Chen"}]}), titles, ALICE)
    return titles


def test_a_peek_read_says_nothing_was_marked_read() -> None:
    text = summarize(outcome("list_messages", {"items": [{}] * 12}, effects="peek"),
                     titles_after_listing(), ALICE)

    assert text == "Trip Planner read 12 messages in #design (peek: nothing marked read)"


def test_a_dry_run_post_says_what_would_have_happened() -> None:
    text = summarize(outcome("post_message", {"id": 1}, method="POST", effects="dry-run"),
                     titles_after_listing(), ALICE)

    assert text == ("Trip Planner would have posted a message in #design "
                    "(dry-run: nothing stored or sent)")


def test_a_dry_run_booking_names_the_fare() -> None:
    body = {"fare": {"amount": 1890, "currency": "EUR"}}
    text = summarize(outcome("book_trip", body, method="POST", effects="dry-run", channel=None),
                     ChannelTitles(), ALICE)

    assert text == ("Trip Planner would have booked a trip for 18.90 EUR "
                    "(dry-run: nothing stored or sent)")


def test_a_dm_title_is_never_shown_in_someone_elses_record() -> None:
    titles = titles_after_listing()

    alices = summarize(outcome("list_messages", {"items": []}, channel=DM), titles, ALICE)
    bobs = summarize(outcome("list_messages", {"items": []}, channel=DM), titles, BOB)

    assert alices.startswith("Trip Planner read 0 messages in Bob Chen")
    assert bobs.startswith("Trip Planner read 0 messages (")
    # A public channel's name is everyone's to see.
    assert "#design" in summarize(outcome("list_messages", {"items": []}), titles, BOB)


def test_an_unreadable_answer_still_gets_a_sentence() -> None:
    broken = outcome("list_messages", content=b"{not json", channel=None)
    odd = outcome("list_messages", {"items": "not a list"}, channel=None)

    assert summarize(broken, ChannelTitles(), ALICE).startswith("Trip Planner read messages")
    assert summarize(odd, ChannelTitles(), ALICE).startswith("Trip Planner read messages")


def test_an_unknown_operation_falls_back_to_its_own_summary() -> None:
    text = summarize(outcome("archive_everything", {}, operation_summary="Archive everything.",
                             channel=None, method="POST"), ChannelTitles(), ALICE)

    assert text == "Trip Planner called chat: archive everything"


def test_a_summary_is_never_longer_than_the_column() -> None:
    text = summarize(outcome("x", {}, operation_summary="y" * 900, channel=None, method="POST"),
                     ChannelTitles(), ALICE)

    assert len(text) == 500
