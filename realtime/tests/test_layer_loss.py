"""Messages the real channels-redis layer drops are counted, logged once and announced to clients."""

import asyncio
import logging
import threading
import time

import pytest
from channels.layers import channel_layers
from django.db import connection

from events.tests.factories import make_event
from realtime.counters import stats
from realtime.models import OutboxMessage
from realtime.tests.conftest import db

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lossy_layer(settings, fresh_redis_url):
    """Set CHANNEL_LAYERS on the real Redis, shaped like project/settings.py, with a config on top."""

    def configure(**config) -> None:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [
                        {"address": fresh_redis_url, "socket_timeout": 15, "socket_connect_timeout": 5}
                    ],
                    "capacity": 5000,
                    "expiry": 30,
                    "prefix": "lookout-loss-test",
                    **config,
                },
            }
        }
        channel_layers.backends.clear()

    yield configure
    channel_layers.backends.clear()


def publish_burst(camera, count: int, then_wait: float) -> None:
    """`count` events, each committed (and sent) on its own; then wait `then_wait` seconds."""
    try:
        for _ in range(count):
            make_event(camera, 20)
        time.sleep(then_wait)
    finally:
        connection.close()


async def frames_until(client, answer: str, sequences: set[int]) -> dict:
    """Read frames until one of type `answer`; add the sequences of the events on the way to `sequences`."""
    async with asyncio.timeout(15):
        while True:
            frame = await client.receive(timeout=15)
            if frame["type"] == answer:
                return frame
            if frame["type"] == "event.created":
                sequences.add(frame["sequence"])


@pytest.mark.parametrize(
    ("config", "then_wait", "hole_shown_by"),
    [
        # The hub's channel holds 5 messages: a group send to it beyond that is skipped.
        ({"capacity": 5}, 0, "a later message"),
        # Nothing follows the lost messages: the heartbeat's read of the outbox shows them.
        ({"capacity": 5}, 0, "the heartbeat"),
        # Redis drops the hub's whole channel key once nothing was sent to it for `expiry` seconds.
        ({"expiry": 2}, 3.5, "a later message"),
    ],
    ids=["capacity overflow", "capacity overflow at the end", "expiry"],
)
async def test_messages_the_layer_dropped_are_announced_and_recovered_by_resume(
    lossy_layer, settings, ws_connect, owner, cameras, caplog, config, then_wait, hole_shown_by
):
    lossy_layer(**config)
    settings.REALTIME_GAP_GRACE_SECONDS = 0.5
    if hole_shown_by == "the heartbeat":
        settings.REALTIME_HEARTBEAT_SECONDS = 1
    client = await ws_connect("/ws/events/", user=owner)
    lost_before, hints_before = stats.messages_lost, stats.resume_hints_sent
    seen: set[int] = set()
    await db(make_event, cameras["front_door"], 10)
    seen.add((await client.receive_type("event.created", timeout=5))["sequence"])

    with caplog.at_level(logging.WARNING, logger="realtime.hub"):
        # Joined on the event loop's own thread: the hub cannot receive while the burst is sent,
        # as when a busy process falls behind.
        burst = threading.Thread(target=publish_burst, args=(cameras["front_door"], 20, then_wait))
        burst.start()
        burst.join()
        if hole_shown_by == "a later message":
            await db(make_event, cameras["front_door"], 10)
        hint = await frames_until(client, "resume.hint", seen)

    await client.send({"action": "resume", "since": hint["payload"]["since"], "request_id": "after-hint"})
    await frames_until(client, "resume.completed", seen)

    stored = await db(
        lambda: set(OutboxMessage.objects.filter(event_type="event.created").values_list("id", flat=True))
    )
    assert seen == stored
    assert len(stored) == (22 if hole_shown_by == "a later message" else 21)
    assert hint["payload"]["missed"] > 0
    assert stats.messages_lost - lost_before == hint["payload"]["missed"]
    assert stats.resume_hints_sent - hints_before == 1
    (logged,) = [r.getMessage() for r in caplog.records if "durable messages" in r.getMessage()]
    assert f"lost {hint['payload']['missed']} durable messages" in logged
