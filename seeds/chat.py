"""Demo data for the chat service: four people, four channels, two DMs, a realistic history.

What a demo (and a browser test) can rely on, as alice:

- #design: exactly 5 unread messages, 2 of them @alice mentions; the newest is bob's,
  so once alice reads the channel, bob sees "seen by Alice Martin" on it.
- #general: 3 unread, one of them an @alice mention; a thread under the all-hands note.
- #random: public, alice is not a member (she can read and join it).
- #leadership: private to alice and dave; invisible to bob and carol.
- DMs alice-bob and alice-carol, both read.

Timestamps are relative to the moment of loading, so the history always looks recent.
``load_chat`` does nothing if #general already exists: run it on an empty chat
database, or again harmlessly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from seeds.people import PEOPLE
from services.chat import messages
from services.chat.models import Channel, ChannelKind, ChatUser, Member, Message
from services.chat.schemas import MessageCreate
from services.common.db import utcnow

_NAMESPACE = uuid.UUID("0c1d6f1e-5b7a-4f0e-8a59-3c2b7d1e9f44")


def channel_id(name: str) -> uuid.UUID:
    """The fixed id of a seeded channel or DM (``dm:alice,bob``)."""
    return uuid.uuid5(_NAMESPACE, name)


@dataclass(frozen=True)
class SeedChannel:
    name: str
    kind: ChannelKind
    members: tuple[str, ...]
    topic: str = ""
    # How many of the channel's messages (in time order) alice has read; None = all.
    alice_has_read: int | None = None

    @property
    def id(self) -> uuid.UUID:
        return channel_id(self.name)


@dataclass(frozen=True)
class Line:
    channel: str
    author: str
    minutes_ago: int
    text: str
    key: str | None = None  # a name other lines can reply to
    reply_to: str | None = None


EVERYONE = tuple(PEOPLE)
CHANNELS = (
    SeedChannel("general", ChannelKind.PUBLIC, EVERYONE, "Company-wide news", alice_has_read=10),
    SeedChannel("design", ChannelKind.PUBLIC, ("alice", "bob", "carol"),
                "Pixels, fonts and flows", alice_has_read=8),
    SeedChannel("random", ChannelKind.PUBLIC, ("bob", "carol", "dave"), "Anything goes"),
    SeedChannel("leadership", ChannelKind.PRIVATE, ("alice", "dave"), "Staff only"),
    SeedChannel("dm:alice,bob", ChannelKind.DM, ("alice", "bob")),
    SeedChannel("dm:alice,carol", ChannelKind.DM, ("alice", "carol")),
)
DESIGN_UNREAD_FOR_ALICE = 5
GENERAL_UNREAD_FOR_ALICE = 3

H, D = 60, 24 * 60  # minutes in an hour, a day
HISTORY = (
    # #general
    Line("general", "dave", 3 * D, "Welcome to the new chat, everyone!"),
    Line("general", "alice", 3 * D - 20, "Thanks Dave, looks great."),
    Line("general", "bob", 2 * D + 5 * H, "All-hands moves to Thursday 15:00.", key="allhands"),
    Line("general", "carol", 2 * D + 5 * H - 10, "Will it be recorded?", reply_to="allhands"),
    Line("general", "bob", 2 * D + 5 * H - 5, "Yes, link in the invite.", reply_to="allhands"),
    Line("general", "carol", 2 * D + 2 * H, "Coffee machine on 3 is fixed."),
    Line("general", "dave", 2 * D, "Quarterly numbers are in the shared drive."),
    Line("general", "alice", D + 6 * H, "Great quarter, team."),
    Line("general", "bob", D + 5 * H, "Lunch-and-learn on Friday: accessibility basics."),
    Line("general", "carol", D + 4 * H, "I can bring the screen reader demo."),
    # alice's unread in #general starts here (3 top-level messages, 1 mention)
    Line("general", "dave", 5 * H, "Office closed Monday for the holiday."),
    Line("general", "bob", 3 * H, "@alice can you share the roadmap slides at all-hands?"),
    Line("general", "carol", 2 * H, "Reminder: expense reports due Friday."),
    # #design
    Line("design", "alice", 2 * D, "Kicking off the onboarding redesign this week."),
    Line("design", "bob", 2 * D - 30, "Which typeface are we going with?", key="font"),
    Line("design", "carol", 2 * D - 35, "Inter for UI, Source Serif for long text.",
         reply_to="font"),
    Line("design", "alice", 2 * D - 40, "Agreed, Inter it is.", reply_to="font"),
    Line("design", "carol", D + 3 * H, "First wireframes are up in Figma."),
    Line("design", "bob", D + 2 * H, "Love the empty states."),
    Line("design", "alice", D + H, "Let's review the sign-up flow tomorrow."),
    Line("design", "carol", D, "Review moved to 11:00."),
    # alice's unread in #design starts here (exactly 5 top-level, 2 mentions)
    Line("design", "carol", 6 * H, "Updated the colour tokens: primary is now #3355FF."),
    Line("design", "bob", 4 * H, "@alice the contrast on secondary buttons fails AA.",
         key="contrast"),
    Line("design", "carol", 4 * H - 15, "I can darken it to #2A44CC.", reply_to="contrast"),
    Line("design", "carol", 3 * H, "Icons exported to the shared folder."),
    Line("design", "carol", 2 * H, "@alice @bob mobile nav mock is ready for a look."),
    Line("design", "bob", 35, "Pushed the new onboarding screens, can you take a look?"),
    # #random
    Line("random", "bob", 2 * D, "Anyone up for climbing on Saturday?"),
    Line("random", "dave", 2 * D - 40, "Count me in."),
    Line("random", "carol", D, "Best ramen near the office? Asking for a friend."),
    # #leadership
    Line("leadership", "dave", 2 * D, "Budget planning starts next week."),
    Line("leadership", "alice", 2 * D - 60, "I'll draft the design team's headcount ask."),
    Line("leadership", "dave", D + 2 * H, "Thanks, send it by Wednesday."),
    # DMs
    Line("dm:alice,bob", "bob", D + 7 * H, "Got a minute to pair on the nav bug?"),
    Line("dm:alice,bob", "alice", D + 7 * H - 5, "Sure, after standup."),
    Line("dm:alice,carol", "carol", 8 * H, "Thanks for the review!"),
    Line("dm:alice,carol", "alice", 8 * H - 3, "Anytime, nice work."),
)
LAST_SEEN_MINUTES_AGO = {"alice": D, "bob": 5, "carol": 2 * H, "dave": 3 * D}


async def load_chat(session: AsyncSession) -> None:
    """Load the demo chat data; does nothing if it is already there. Flushes, never commits."""
    if await session.get(Channel, channel_id("general")) is not None:
        return
    now = utcnow()
    users: dict[str, ChatUser] = {}
    for username, p in PEOPLE.items():
        # A person who already called chat has a profile; keep it, set their presence.
        user = await session.get(ChatUser, p.id) or ChatUser(
            id=p.id, username=username, display_name=p.display_name,
            created_at=now - dt.timedelta(days=30))
        user.last_seen_at = now - dt.timedelta(minutes=LAST_SEEN_MINUTES_AGO[username])
        session.add(user)
        users[username] = user
    # Flush people first: with no relationship() between them, the unit of work does not
    # order these inserts by the foreign key, so channels could go in before their creators.
    await session.flush()
    created = now - dt.timedelta(days=30)
    channels = {
        seed.name: Channel(
            id=seed.id, kind=seed.kind, name=None if seed.kind == ChannelKind.DM else seed.name,
            dm_key=",".join(sorted(str(users[u].id) for u in seed.members))
            if seed.kind == ChannelKind.DM else None,
            topic=seed.topic, created_by=users[seed.members[0]].id, created_at=created)
        for seed in CHANNELS
    }
    session.add_all(channels.values())
    await session.flush()
    members = {(seed.name, u): Member(channel_id=seed.id, user_id=users[u].id, joined_at=created,
                                      last_read_id=0)
               for seed in CHANNELS for u in seed.members}
    session.add_all(members.values())
    await session.flush()

    posted: dict[str, list[Message]] = {seed.name: [] for seed in CHANNELS}
    keys: dict[str, int] = {}
    # Posted through the service, oldest first, so ids follow time and mentions, reply
    # counts and the posters' read positions follow the service's own rules.
    for line in sorted(HISTORY, key=lambda line: -line.minutes_ago):
        body = MessageCreate(text=line.text,
                             thread_id=keys[line.reply_to] if line.reply_to else None)
        message = await messages.post(session, users[line.author], channels[line.channel],
                                      members[(line.channel, line.author)], body,
                                      now - dt.timedelta(minutes=line.minutes_ago))
        posted[line.channel].append(message)
        if line.key:
            keys[line.key] = message.id

    # Everyone has read everything, except alice where the script says otherwise.
    for seed in CHANNELS:
        history = posted[seed.name]
        for username in seed.members:
            read = seed.alice_has_read if username == "alice" else None
            upto = history[(read if read is not None else len(history)) - 1].id
            await session.execute(
                update(Member).where(Member.channel_id == seed.id,
                                     Member.user_id == users[username].id)
                .values(last_read_id=upto).execution_options(synchronize_session=False))
    await session.flush()

