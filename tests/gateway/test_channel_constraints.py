"""A principal's channel constraint travels in the Txn-Token and the chat service applies it."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from gateway.principal import Principal
from seeds.chat import channel_id
from seeds.people import PEOPLE
from services.common.txn_token import Actor

ALICE = PEOPLE["alice"]


def agent_for_alice(channels: list[str]) -> Principal:
    return Principal(user_id=ALICE.id, username=ALICE.username, display_name=ALICE.display_name,
                     scopes=frozenset({"chat:read"}), via="token",
                     actors=(Actor(sub=f"agent:{uuid.uuid4()}"),),
                     constraints={"chat:channels": channels})


async def test_an_agent_limited_to_design_sees_only_design(gateway_app: FastAPI) -> None:
    pipeline = gateway_app.state.pipeline
    principal = agent_for_alice([str(channel_id("design"))])

    listed = await pipeline.call(principal, "GET", "chat", "/channels", request_id="c1")
    hidden = await pipeline.call(principal, "GET", "chat",
                                 f"/channels/{channel_id('general')}/messages", request_id="c2")
    shown = await pipeline.call(principal, "GET", "chat",
                                f"/channels/{channel_id('design')}/messages", request_id="c3")

    assert [c["title"] for c in listed.json()["items"]] == ["design"]
    assert hidden.status == 404
    assert shown.status == 200
