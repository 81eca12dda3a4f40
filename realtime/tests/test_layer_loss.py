"""Messages the real channels-redis layer drops are counted, logged once and announced to the clients
of the groups that lost them."""

import asyncio
import logging
import threading
import time

import pytest
from channels.layers import channel_layers
from django.db import connection

from events.tests.factories import make_event
from project.testing.servers import django_env, manage
from realtime.broadcast import Message, notify_visibility_changed, publish_many
from realtime.counters import stats
from realtime.hub import get_hub
from realtime.models import OutboxMessage
from realtime.tests.conftest import db
from realtime.tests.test_revocation import admin_save, close_code

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

LAYER_PREFIX = "lookout-loss-test"
PROGRESS = Message("enrichment.progress", {"batch_id": 1, "progress": 50, "current_step": "scoring"})


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
                    "prefix": LAYER_PREFIX,
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


def publish_progress(count: int) -> None:
    """`count` enrichment.progress messages (ephemeral), each sent on its own."""
    try:
        for _ in range(count):
            publish_many([PROGRESS])
    finally:
        connection.close()


async def hints_among_frames(client) -> list[dict]:
    """The loss hints among the frames that arrive until none has for a while."""
    frames = []
    while not await client.nothing(timeout=0.5):
        frames.append(await client.receive())
    return [frame for frame in frames if frame["type"].endswith(".hint")]


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
        # Nor here, but what arrived came late (the hub was behind): a read of the outbox at once
        # shows them, long before the next heartbeat.
        ({"capacity": 5}, 1.5, "the backlog"),
        # Redis drops the hub's whole channel key once nothing was sent to it for `expiry` seconds.
        ({"expiry": 2}, 3.5, "a later message"),
    ],
    ids=[
        "capacity overflow",
        "capacity overflow at the end",
        "capacity overflow at the end of a backlog",
        "expiry",
    ],
)
async def test_messages_the_layer_dropped_are_announced_and_recovered_by_resume(
    lossy_layer, settings, ws_connect, owner, cameras, caplog, config, then_wait, hole_shown_by
):
    lossy_layer(**config)
    settings.REALTIME_GAP_GRACE_SECONDS = 0.5
    if hole_shown_by == "the heartbeat":
        settings.REALTIME_HEARTBEAT_SECONDS = 1
    client = await ws_connect("/ws/events/", user=owner)
    bystander = await ws_connect("/ws/system/", user=owner)  # same user and process, other groups
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
    assert hint["payload"]["channels"] == ["events"]
    (logged,) = [r.getMessage() for r in caplog.records if "durable messages" in r.getMessage()]
    assert f"lost {hint['payload']['missed']} durable messages" in logged
    assert await hints_among_frames(bystander) == []


async def test_lost_ephemeral_messages_are_announced_to_the_clients_of_their_channel_only(
    lossy_layer, settings, ws_connect, owner, caplog
):
    lossy_layer(capacity=5)
    settings.REALTIME_GAP_GRACE_SECONDS = 0.5
    watcher = await ws_connect("/ws/", user=owner)
    await watcher.request({"action": "subscribe", "channels": ["enrichment"]}, "subscribed")
    bystander = await ws_connect("/ws/alerts/", user=owner)  # same user and process, other channel
    before = (
        stats.ephemeral_messages_lost,
        stats.reload_hints_sent,
        stats.messages_lost,
        stats.resume_hints_sent,
    )
    await db(publish_progress, 1)
    received = [await watcher.receive_type("enrichment.progress", timeout=5)]

    with caplog.at_level(logging.WARNING, logger="realtime.hub"):
        # Joined on the event loop's own thread, so the hub cannot receive while the burst is sent.
        burst = threading.Thread(target=publish_progress, args=(20,))
        burst.start()
        burst.join()
        await db(publish_progress, 1)  # a later message shows how many did not come
        async with asyncio.timeout(15):
            while (frame := await watcher.receive(timeout=15))["type"] == "enrichment.progress":
                received.append(frame)

    missed = 22 - len(received)
    assert frame["type"] == "reload.hint"
    assert frame["payload"] == {"channels": ["enrichment"], "missed": missed}
    assert missed > 0
    assert await watcher.nothing()
    assert await hints_among_frames(bystander) == []
    after = (
        stats.ephemeral_messages_lost,
        stats.reload_hints_sent,
        stats.messages_lost,
        stats.resume_hints_sent,
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [missed, 1, 0, 0]
    (logged,) = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert f"lost {missed} ephemeral messages" in logged


# A separate process that publishes: each run of it is a sender with a new id, counting from zero.
PUBLISHER = """
from realtime.broadcast import Message, notify_visibility_changed, publish_many
progress = Message("enrichment.progress", {"batch_id": 1, "progress": 50, "current_step": "scoring"})
for size in %r:
    publish_many([progress] * size)
"""


async def test_a_sender_that_restarts_announces_nothing(
    lossy_layer, settings, ws_connect, owner, fresh_redis_url, tmp_path
):
    lossy_layer()
    settings.REALTIME_GAP_GRACE_SECONDS = 0.2
    client = await ws_connect("/ws/", user=owner)
    await client.request({"action": "subscribe", "channels": ["enrichment"]}, "subscribed")
    before = (stats.ephemeral_messages_lost, stats.reload_hints_sent)
    env = django_env(tmp_path, {"REDIS_URL": fresh_redis_url, "CHANNEL_LAYER_PREFIX": LAYER_PREFIX})
    # The restarted sender's count passes the first one's in a bundle (several messages, one layer message).
    for sizes in ([1, 1], [1, 3, 1]):
        await asyncio.to_thread(manage, env, "shell", "-c", PUBLISHER % (sizes,))
        for _ in range(sum(sizes)):
            await client.receive_type("enrichment.progress", timeout=10)

    assert not get_hub().streams.pending
    assert await client.nothing(timeout=1)
    assert (stats.ephemeral_messages_lost, stats.reload_hints_sent) == before


def revoke_behind_notices(user, others: int) -> None:
    """`others` visibility notices about nobody in particular, then `user` made inactive (its notice too)."""
    try:
        for _ in range(others):
            notify_visibility_changed()
        admin_save(user, is_active=False)
    finally:
        connection.close()


async def test_a_lost_access_notice_makes_every_connection_recheck_its_own(
    lossy_layer, settings, ws_connect, owner, viewer
):
    lossy_layer(capacity=5)
    settings.REALTIME_GAP_GRACE_SECONDS = 0.2
    revoked = await ws_connect("/ws/events/", user=viewer)
    kept = await ws_connect("/ws/events/", user=owner)
    # Joined on the event loop's own thread, so the hub cannot receive while the notices are sent:
    # the viewer's own notice is past the hub channel's capacity, and lost.
    burst = threading.Thread(target=revoke_behind_notices, args=(viewer, 10))
    burst.start()
    burst.join()
    # A later notice shows how many did not come, once it finds room in the hub's channel (the hub
    # drains it one notice at a time, each a database read per connection).
    hub, lost_before = get_hub(), stats.ephemeral_messages_lost
    async with asyncio.timeout(30):
        while not hub.streams.holes and stats.ephemeral_messages_lost == lost_before:
            await db(notify_visibility_changed)
            await asyncio.sleep(0.1)

    assert await close_code(revoked) == 4403
    assert (await kept.receive_type("reload.hint", timeout=15))["payload"]["channels"] is None
    await kept.send({"action": "ping", "request_id": "still-open"})
    assert (await kept.receive_type("pong", timeout=15))["payload"]["request_id"] == "still-open"
