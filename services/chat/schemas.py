"""Request and response bodies of the chat API."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.chat.cursors import MAX_ID

MAX_TEXT = 4000
# C0 controls other than tab and newline have no place in a chat message (and \x02/\x03
# are the search highlighter's markers, see search.py).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _message_text(value: str) -> str:
    if not value.strip():
        raise ValueError("the text is blank")
    if _CONTROL.search(value):
        raise ValueError("the text contains control characters")
    return value


MessageText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT),
                        AfterValidator(_message_text)]
MessageId = Annotated[int, Field(ge=1, le=MAX_ID)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=40, to_lower=True,
                                            strip_whitespace=True)]
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")]


class Body(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# --- people -----------------------------------------------------------------------------

class Person(BaseModel):
    id: uuid.UUID
    username: str
    name: str


class AgentRef(BaseModel):
    """An agent that acted for a person: its actor id from the Txn-Token, and its name."""

    agent: str = Field(description="The acting agent's id (the actor's sub).")
    name: str = Field(description="What to call it, e.g. \"Trip Planner\".")


class DirectoryEntry(Person):
    last_seen_at: dt.datetime | None


class UserPage(BaseModel):
    items: list[DirectoryEntry]
    next_cursor: str | None


# --- channels ---------------------------------------------------------------------------

class ChannelCreate(Body):
    name: ChannelName
    private: bool = False
    topic: str = Field("", max_length=250)
    usernames: list[Username] = Field(default_factory=list, max_length=100,
                                      description="People to add besides you.")


class MembersAdd(Body):
    usernames: list[Username] = Field(min_length=1, max_length=100)


class DirectMessageOpen(Body):
    usernames: list[Username] = Field(min_length=1, max_length=8,
                                      description="The other people in the conversation.")


class ChannelSummary(BaseModel):
    id: uuid.UUID
    kind: Literal["public", "private", "dm"]
    name: str | None = Field(description="The channel's name; null for a DM.")
    title: str = Field(description="What to show: #name, or the other members' names for a DM.")
    topic: str
    is_member: bool
    unread_count: int
    mention_count: int
    last_read_id: int
    marked_by: AgentRef | None = Field(
        None, description="The agent that last moved your read position; null if you did.")
    last_message_at: dt.datetime | None


class ChannelDetail(ChannelSummary):
    created_at: dt.datetime
    members: list[Person]


class ChannelPage(BaseModel):
    items: list[ChannelSummary]
    next_cursor: str | None


# --- messages ---------------------------------------------------------------------------

class MessageCreate(Body):
    text: MessageText
    thread_id: MessageId | None = Field(None, description="Reply in this message's thread.")


class MessageOut(BaseModel):
    id: int
    channel_id: uuid.UUID
    author: Person
    text: str
    created_at: dt.datetime
    thread_id: int | None
    reply_count: int
    last_reply_at: dt.datetime | None
    mentions: list[str]
    seen_by: list[Person] = Field(description="Who has read it; only on your own messages.")
    via: AgentRef | None = Field(
        None, description="The agent that posted it for its author; null if they did.")


class MessagePage(BaseModel):
    items: list[MessageOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Cursor to the older messages, if any.")


class Thread(BaseModel):
    parent: MessageOut
    replies: list[MessageOut] = Field(description="Oldest first.")
    next_cursor: str | None = Field(description="Cursor to the newer replies, if any.")


class MarkRead(Body):
    message_id: MessageId


class ReadState(BaseModel):
    channel_id: uuid.UUID
    last_read_id: int
    unread_count: int
    mention_count: int
    marked_by: AgentRef | None = Field(
        None, description="The agent that last moved your read position; null if you did.")


# --- an agent's own place ------------------------------------------------------------------

class CursorAdvance(Body):
    message_id: MessageId = Field(description="The newest message the agent has now seen.")


class AgentCursorOut(BaseModel):
    channel_id: uuid.UUID
    agent: str = Field(description="Whose cursor: the acting agent (the person, if none).")
    last_seen_id: int = Field(description="The newest message it has seen; 0: none yet.")
    updated_at: dt.datetime | None = Field(description="When it last moved; null: never.")


class NewMessages(BaseModel):
    cursor: AgentCursorOut
    items: list[MessageOut] = Field(
        description="Messages (thread replies too) after the cursor, oldest first.")
    has_more: bool = Field(description="Newer messages exist past the last item: page with "
                                       "after=<its id>, or advance the cursor and ask again.")


# --- search -----------------------------------------------------------------------------

class ChannelRef(BaseModel):
    id: uuid.UUID
    title: str


class SearchHit(BaseModel):
    message: MessageOut
    channel: ChannelRef
    snippet_html: str = Field(
        description="HTML-escaped excerpt with the matches wrapped in <mark>.")


class SearchPage(BaseModel):
    items: list[SearchHit] = Field(description="Newest first.")
    next_cursor: str | None
