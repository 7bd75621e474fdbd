"""Fixtures for the chat service: an app per test on each backend, a clock, the people."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from services.chat import deps
from services.chat.app import create_app
from tests.services.chat.support import ALICE, BOB, CAROL, DAVE, Chat, Clock
from tests.support.txn import ServiceCaller, Signer


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(database_url: str, signer: Signer, clock: Clock) -> AsyncIterator[FastAPI]:
    app = create_app(database_url=database_url, issuer=signer.issuer, keys=signer.keys)
    app.dependency_overrides[deps.now] = clock
    yield app
    await app.state.engine.dispose()


@pytest.fixture
async def chat(app: FastAPI, signer: Signer) -> AsyncIterator[Chat]:
    caller = ServiceCaller(app, "chat", signer)
    chat = Chat(caller)
    await chat.introduce(ALICE, BOB, CAROL, DAVE)
    yield chat
    await caller.aclose()
