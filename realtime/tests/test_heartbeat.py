"""The hub's heartbeat loop runs on its own and reports the current last sequence, never a stale one."""

import asyncio

import pytest

from events.tests.factories import make_event
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


async def next_heartbeat(client) -> dict:
    """The next heartbeat frame, skipping anything else."""
    while (frame := await client.receive(timeout=10))["type"] != "heartbeat":
        pass
    return frame


async def test_heartbeats_arrive_and_carry_the_last_sequence_written(ws_connect, owner, cameras, settings):
    settings.REALTIME_HEARTBEAT_SECONDS = 0.05
    client = await ws_connect("/ws/events/", user=owner)
    first = await next_heartbeat(client)
    assert first["payload"]["last_sequence"] == client.established["payload"]["last_sequence"]

    await db(make_event, cameras["garage"], 20)
    sequence = (await client.receive_type("event.created"))["sequence"]

    async def heartbeat_of(wanted: int) -> dict:
        # A heartbeat read just before the commit may still be on its way: wait for a current one.
        while (frame := await next_heartbeat(client))["payload"]["last_sequence"] != wanted:
            assert frame["payload"]["last_sequence"] < wanted
        return frame

    await asyncio.wait_for(heartbeat_of(sequence), timeout=10)
