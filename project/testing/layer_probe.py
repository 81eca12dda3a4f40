"""A plain channel of the channel layer in the detections group: what a write sent, as the hubs get it."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


@pytest.fixture
def detections_listener():
    """(layer, channel) in the detections group (left at the end: the in-memory layer outlives tests)."""
    from realtime.broadcast import group_name  # a plugin is imported before Django is set up

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)("probe.")
    async_to_sync(layer.group_add)(group_name("detections"), channel)
    yield layer, channel
    async_to_sync(layer.group_discard)(group_name("detections"), channel)


async def receive_all(layer, channel: str) -> list[dict]:
    """Every message waiting on `channel` (the in-memory layer has them all once the send returned)."""
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.2))
        except TimeoutError:
            return messages
