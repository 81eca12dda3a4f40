"""Visibility on every frame and every replay; resume after a disconnect; no leaked groups."""

import pytest
from django.utils import timezone

from events.services import detection_ingest
from events.tests.factories import make_alert, make_event
from realtime.hub import get_hub
from realtime.outbox import outbox_prune
from realtime.tests.conftest import db

pytestmark = pytest.mark.django_db(transaction=True)


async def drain_until_pong(client) -> list[dict]:
    await client.send({"action": "ping", "request_id": "end"})
    frames = []
    while (frame := await client.receive())["type"] != "pong":
        frames.append(frame)
    return frames


async def test_a_viewer_never_receives_a_hidden_camera_event_live(ws_connect, viewer, stranger, cameras):
    watching = await ws_connect("/ws/events/", user=viewer)
    outsider = await ws_connect("/ws/alerts/", user=stranger)
    await db(make_event, cameras["backyard"], 95)
    await db(make_alert, cameras["backyard"], 95)
    await db(make_event, cameras["garage"], 20)
    frames = await drain_until_pong(watching)
    assert [f["payload"]["camera_id"] for f in frames] == ["garage"]
    assert await outsider.nothing()


async def test_a_viewer_never_receives_a_hidden_camera_event_in_replay(ws_connect, viewer, cameras):
    client = await ws_connect("/ws/events/", user=viewer)
    since = client.established["payload"]["last_sequence"]
    await client.close()
    await db(make_event, cameras["backyard"], 95)
    await db(make_event, cameras["front_door"], 40)
    client = await ws_connect("/ws/events/", user=viewer)
    await client.send({"action": "resume", "since": since, "request_id": "r"})
    replayed = []
    while (frame := await client.receive())["type"] != "resume.completed":
        replayed.append(frame)
    assert [(f["type"], f["payload"]["camera_id"]) for f in replayed] == [("event.created", "front_door")]
    assert frame["payload"]["replayed"] == 1
    assert frame["payload"]["request_id"] == "r"


async def test_revoking_a_grant_stops_live_delivery_at_once(ws_connect, viewer, cameras):
    client = await ws_connect("/ws/events/", user=viewer)
    await db(cameras["front_door"].viewers.remove, viewer)
    await drain_until_pong(client)  # the notice has been handled once the pong is back
    await db(make_event, cameras["front_door"], 50)
    await db(make_event, cameras["garage"], 50)
    frames = await drain_until_pong(client)
    assert [f["payload"]["camera_id"] for f in frames] == ["garage"]


async def test_resume_replays_missed_messages_in_order_without_hidden_ones(ws_connect, viewer, cameras):
    client = await ws_connect("/ws/", user=viewer)
    await client.request({"action": "subscribe", "channels": ["events", "alerts"]}, "subscribed")
    await db(make_event, cameras["front_door"], 10)
    seen = (await client.receive_type("event.created"))["sequence"]
    await client.close()

    await db(make_event, cameras["garage"], 20)
    await db(make_event, cameras["backyard"], 90)  # hidden from the viewer
    await db(make_alert, cameras["garage"], 70)
    await db(make_alert, cameras["backyard"], 95)  # hidden too
    await db(
        detection_ingest,
        rows=[
            {
                "camera": cameras["garage"],
                "object_type": "car",
                "confidence": 0.5,
                "detected_at": timezone.now(),
            }
        ],
    )

    client = await ws_connect("/ws/", user=viewer)
    await client.request({"action": "subscribe", "channels": ["events", "alerts"]}, "subscribed")
    await client.send({"action": "resume", "since": seen})
    replayed = []
    while (frame := await client.receive())["type"] != "resume.completed":
        replayed.append(frame)
    fresh = [f for f in replayed if f["sequence"] > seen]
    assert [(f["type"], f["payload"]["camera_id"]) for f in fresh] == [
        ("event.created", "garage"),
        ("event.created", "garage"),
        ("alert.created", "garage"),
    ]
    sequences = [f["sequence"] for f in replayed]
    assert sequences == sorted(sequences)
    assert all(f["channel"] in {"events", "alerts"} for f in replayed)  # not detections: not subscribed
    assert frame["payload"]["last_sequence"] >= sequences[-1]


async def test_resume_from_before_the_kept_history_is_a_gap(ws_connect, owner, cameras):
    await db(make_event, cameras["garage"], 20)
    await db(outbox_prune, older_than_seconds=0)
    client = await ws_connect("/ws/events/", user=owner)
    gap = await client.request({"action": "resume", "since": 1, "request_id": 9}, "resume.gap")
    assert gap["payload"]["since"] == 1
    assert gap["payload"]["request_id"] == 9


async def test_a_thousand_connect_disconnect_cycles_leave_no_group_members(
    ws_connect, viewer, cameras, settings
):
    settings.REALTIME_CONNECT_RATE = 10_000
    hub = get_hub()
    for _ in range(1000):
        client = await ws_connect("/ws/events/", user=viewer, established=False)
        await client.close()
    assert hub.group_sizes() == {}
    assert hub.connections == set()
    assert hub.channel_name is None  # nothing listens: the hub let go of the layer too
    layer_groups = {g: members for g, members in hub.layer.groups.items() if members}
    assert layer_groups == {}
