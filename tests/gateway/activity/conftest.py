"""Helpers for the activity tests: the app's recorder, and reading the record back."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from gateway.activity.models import ActivityEntry
from gateway.activity.recorder import ActivityRecorder


async def entries(app: FastAPI, person: uuid.UUID | None = None) -> list[ActivityEntry]:
    """Every entry written so far (after flushing the recorder), oldest first."""
    recorder: ActivityRecorder = app.state.activity
    await recorder.flush()
    query = select(ActivityEntry).order_by(ActivityEntry.seq)
    if person is not None:
        query = query.where(ActivityEntry.user_id == person)
    async with app.state.sessionmaker() as db:
        return list((await db.scalars(query)).all())
