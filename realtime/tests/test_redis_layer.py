"""The consumers on the real channels-redis layer (what scale-out runs), not the in-memory one."""

import logging

import pytest
import redis
from channels.layers import channel_layers

from events.tests.factories import make_event
from realtime.broadcast import group_name
from realtime.hub import get_hub
from realtime.tests.conftest import db

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

PREFIX = "lookout-test"
# Longer than channels-redis's blocking receive (BZPOPMIN, 5 s) and redis-py 8's default
# socket_timeout (5 s): the idle stretch in which channels_redis#422 loses the receive.
IDLE_SECONDS = 6


@pytest.fixture
def redis_layer(settings, fresh_redis_url):
    """CHANNEL_LAYERS on the real Redis, shaped like project/settings.py; yields a redis-py client."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": fresh_redis_url, "socket_timeout": 15, "socket_connect_timeout": 5}],
                "capacity": 5000,
                "expiry": 30,
                "prefix": PREFIX,
            },
        }
    }
    channel_layers.backends.clear()
    client = redis.Redis.from_url(fresh_redis_url)
    yield client
    client.close()
    channel_layers.backends.clear()


def group_members(client: redis.Redis, channel: str) -> int:
    """Members of a protocol channel's group, read straight from channels-redis's sorted set."""
    return client.zcard(f"{PREFIX}:group:{group_name(channel)}")


async def test_an_event_saved_in_the_database_reaches_the_events_socket(
    redis_layer, ws_connect, viewer, cameras
):
    client = await ws_connect("/ws/events/", user=viewer)
    assert group_members(redis_layer, "events") == 1  # the hub really joined through Redis
    event = await db(make_event, cameras["front_door"], 55)
    frame = await client.receive_type("event.created", timeout=5)
    assert frame["payload"]["id"] == event.id
    assert frame["sequence"] > client.established["payload"]["last_sequence"]


async def test_two_hundred_connect_disconnect_cycles_leave_no_group_members_in_redis(
    redis_layer, ws_connect, viewer, cameras, settings
):
    settings.REALTIME_CONNECT_RATE = 10_000
    for cycle in range(200):
        client = await ws_connect("/ws/events/", user=viewer)
        if cycle == 0:  # the control: while connected, the group is there under the key we read
            assert group_members(redis_layer, "events") == group_members(redis_layer, "detections") == 1
        await client.close()
    assert get_hub().channel_name is None
    assert redis_layer.keys(f"{PREFIX}:group:*") == []


async def test_a_client_idle_past_the_blocking_receive_timeout_still_gets_events(
    redis_layer, ws_connect, owner, cameras, caplog
):
    client = await ws_connect("/ws/events/", user=owner)
    with caplog.at_level(logging.ERROR, logger="realtime.hub"):
        assert await client.nothing(timeout=IDLE_SECONDS)
        event = await db(make_event, cameras["backyard"], 80)
        frame = await client.receive_type("event.created", timeout=5)
    assert frame["payload"]["id"] == event.id
    # The hub's receive survived the idle stretch instead of failing and retrying.
    assert [r.getMessage() for r in caplog.records] == []


async def test_the_handshake_budget_kept_in_redis_refuses_the_handshake_past_it(
    ws_connect, viewer, settings, fresh_redis_url
):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": fresh_redis_url}
    }
    settings.REALTIME_CONNECT_RATE = 3
    for _ in range(3):
        client = await ws_connect("/ws/", user=viewer)
        await client.close()
    assert await ws_connect("/ws/", user=viewer, expect_accept=False) == (False, 1000)
    client = redis.Redis.from_url(fresh_redis_url)
    [key] = client.keys("*ws-handshakes:*")
    # The count is the cache's own entry, and it expires rather than stay in Redis for good.
    assert (int(client.get(key)), 0 < client.ttl(key) <= 120) == (4, True)
    client.close()
