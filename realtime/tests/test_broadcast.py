"""Each model change reaches exactly the right channels, after commit, with a valid envelope."""

import logging

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from cameras.models import CameraStatus
from cameras.services import camera_heartbeat, camera_set_enabled, camera_set_status
from events.models import Event, JobStatus
from events.services import (
    alert_acknowledge,
    alert_dismiss,
    alert_resolve,
    detection_ingest,
    event_delete,
    event_update,
)
from events.tests.factories import make_alert, make_event, make_job
from realtime.broadcast import CONTROL_GROUP, PayloadError, group_name, publish
from realtime.counters import stats
from realtime.event_types import get_all_channels
from realtime.models import OutboxMessage

pytestmark = pytest.mark.django_db

DRAINED = "test.drained"


class LayerListener:
    """A channel of the real channel layer in every group the broadcaster sends to in these tests:
    each protocol channel's and the control group (send_to_user's user groups are not used here)."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        self.groups = [group_name(channel) for channel in get_all_channels()] + [CONTROL_GROUP]
        for group in self.groups:
            async_to_sync(self.layer.group_add)(group, self.channel)

    def received(self) -> list[tuple[str, str, dict]]:
        """(group, type, envelope) of each frame the layer brought since the last call, in order."""

        async def drain() -> list[tuple[str, dict]]:
            # A marker after whatever the layer holds for us: one channel is one queue, so every
            # frame sent before it comes first, and nothing depends on a timeout.
            await self.layer.send(self.channel, {"type": DRAINED})
            frames = []
            while (message := await self.layer.receive(self.channel))["type"] != DRAINED:
                frames += [(message["group"], inner) for inner in message.get("bundle") or [message]]
            return frames

        return [
            (group, message["meta"]["event_type"], orjson.loads(message["text"]))
            for group, message in async_to_sync(drain)()
        ]

    def leave(self) -> None:
        for group in self.groups:
            async_to_sync(self.layer.group_discard)(group, self.channel)


@pytest.fixture
def listener():
    """A LayerListener that leaves its groups afterwards (the in-memory layer outlives the test)."""
    listening = LayerListener()
    yield listening
    listening.leave()


@pytest.fixture
def sent(django_capture_on_commit_callbacks, listener):
    """Run a change and its on-commit callbacks; return (group, type, envelope) of each frame that
    reached the channel layer."""

    def run(change):
        listener.received()
        with django_capture_on_commit_callbacks(execute=True):
            change()
        return listener.received()

    return run


def kinds(frames) -> list[tuple[str, str]]:
    return [(group, event_type) for group, event_type, _ in frames]


def detection_row(camera, object_type="person", confidence=0.9):
    return {
        "camera": camera,
        "object_type": object_type,
        "confidence": confidence,
        "detected_at": timezone.now(),
    }


def test_event_create_update_delete_reach_the_events_channel_only(sent, cameras):
    created = sent(lambda: make_event(cameras["front_door"], 72))
    assert kinds(created) == [("lookout.events", "event.created")]
    envelope = created[0][2]
    assert set(envelope) == {"type", "channel", "sequence", "timestamp", "correlation_id", "payload"}
    assert envelope["channel"] == "events"
    assert envelope["payload"]["risk_level"] == "high"
    assert envelope["payload"]["camera_id"] == "front_door"
    assert envelope["sequence"] == OutboxMessage.objects.get(event_type="event.created").id

    event = Event.objects.get()
    updated = sent(lambda: event_update(event=event, reviewed=True, notes="checked"))
    assert kinds(updated) == [("lookout.events", "event.updated")]
    assert updated[0][2]["payload"]["updated_fields"] == ["notes", "reviewed"]
    assert updated[0][2]["sequence"] > envelope["sequence"]

    event_id = event.id
    deleted = sent(lambda: event_delete(event=event))
    assert kinds(deleted) == [("lookout.events", "event.deleted")]
    assert deleted[0][2]["payload"] == {"id": event_id, "camera_id": "front_door"}


def test_a_save_that_changes_nothing_broadcasts_nothing(sent, cameras):
    event = make_event(cameras["front_door"], 40)
    assert sent(lambda: event.save()) == []


def test_bulk_ingested_detections_each_reach_the_detections_channel(sent, cameras):
    frames = sent(lambda: detection_ingest(rows=[detection_row(cameras["garage"]) for _ in range(3)]))
    detection_frames = [f for f in frames if f[1] == "detection.new"]
    assert [g for g, _, _ in detection_frames] == ["lookout.detections"] * 3
    sequences = [f[2]["sequence"] for f in detection_frames]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    # The garage camera came online with its first detection: that is camera news, on its channel.
    assert ("lookout.cameras", "camera.status_changed") in kinds(frames)


def test_camera_status_and_enabled_changes_carry_what_changed(sent, cameras):
    camera = cameras["backyard"]
    online = sent(lambda: camera_heartbeat(camera=camera))
    assert kinds(online) == [
        ("lookout.cameras", "camera.status_changed"),
        ("lookout.cameras", "camera.online"),
    ]
    assert online[0][2]["payload"]["previous_status"] == CameraStatus.UNKNOWN
    assert online[0][2]["payload"]["status"] == CameraStatus.ONLINE

    assert sent(lambda: camera_heartbeat(camera=camera)) == []  # a heartbeat alone is not news

    offline = sent(lambda: camera_set_status(camera=camera, status=CameraStatus.OFFLINE))
    assert [t for _, t, _ in offline] == ["camera.status_changed", "camera.offline"]
    assert offline[0][2]["payload"]["previous_status"] == "online"

    disabled = sent(lambda: camera_set_enabled(camera=camera, enabled=False))
    assert [t for _, t, _ in disabled] == ["camera.disabled"]
    assert disabled[0][2]["payload"]["disabled_at"]

    def rename():
        camera.name = "Back garden"
        camera.save()

    renamed = sent(rename)
    assert [t for _, t, _ in renamed] == ["camera.config_updated"]
    assert renamed[0][2]["payload"]["updated_fields"] == ["name"]


def test_alert_lifecycle_reaches_the_alerts_channel_only(sent, cameras, owner):
    created = sent(lambda: make_alert(cameras["front_door"], 90))
    assert ("lookout.alerts", "alert.created") in kinds(created)
    alert_frame = next(f for f in created if f[1] == "alert.created")[2]
    assert alert_frame["payload"]["severity"] == "critical"
    assert alert_frame["payload"]["camera_id"] == "front_door"
    from events.models import Alert

    alert = Alert.objects.get()
    acknowledged = sent(lambda: alert_acknowledge(alert=alert, user=owner))
    assert kinds(acknowledged) == [("lookout.alerts", "alert.acknowledged")]
    assert acknowledged[0][2]["payload"]["acknowledged_by"] == "owner"
    assert kinds(sent(lambda: alert_resolve(alert=alert, user=owner))) == [
        ("lookout.alerts", "alert.resolved")
    ]

    other = make_alert(cameras["garage"], 50)
    assert kinds(sent(lambda: alert_dismiss(alert=other, user=owner))) == [
        ("lookout.alerts", "alert.dismissed")
    ]
    gone = sent(lambda: other.event.delete())
    assert kinds(gone) == [("lookout.alerts", "alert.deleted"), ("lookout.events", "event.deleted")]
    assert gone[0][2]["payload"]["camera_id"] == "garage"


def test_job_messages_follow_status_and_each_progress_change(sent, owner):
    job = make_job(owner)

    def move(**changes):
        def change():
            for name, value in changes.items():
                setattr(job, name, value)
            job.save()

        return [t for _, t, _ in sent(change)]

    assert move(status=JobStatus.RUNNING, started_at=timezone.now()) == ["job.started"]
    assert move(progress=5) == ["job.progress"]
    assert move(progress=6) == ["job.progress"]
    assert move(message="Still running") == []
    assert move(status=JobStatus.COMPLETED, progress=100, finished_at=timezone.now()) == ["job.completed"]


def test_a_rolled_back_change_broadcasts_nothing_and_leaves_no_outbox_row(sent, cameras):
    def failing():
        with transaction.atomic():
            make_event(cameras["front_door"], 80)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        sent(failing)
    assert sent(lambda: None) == []
    assert not OutboxMessage.objects.filter(channel="events").exists()
    assert Event.objects.count() == 0


def test_broadcast_waits_for_commit(django_capture_on_commit_callbacks, cameras, listener):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_event(cameras["front_door"], 10)
    assert listener.received() == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert [event_type for _, event_type, _ in listener.received()] == ["event.created"]


def test_a_missing_required_payload_field_raises_in_strict_mode():
    with pytest.raises(PayloadError, match="risk_score"):
        publish("event.created", {"id": 1, "camera_id": "x"})
    with pytest.raises(PayloadError, match="unknown event type"):
        publish("event.exploded", {})


def test_a_missing_required_payload_field_is_logged_and_dropped_in_production(settings, caplog):
    settings.REALTIME_STRICT_PAYLOADS = False
    before = stats.publish_failures
    with caplog.at_level(logging.ERROR, logger="realtime.broadcast"):
        publish("event.created", {"id": 1, "camera_id": "x"})
    assert "missing payload fields" in caplog.text
    assert stats.publish_failures == before + 1
    assert OutboxMessage.objects.count() == 0


def test_a_dead_channel_layer_keeps_the_write_and_counts_the_failure(
    settings, cameras, caplog, django_capture_on_commit_callbacks
):
    """Redis down: the request still succeeds, the row and its outbox entry stay, the loss is logged."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Port 9 on loopback: nothing listens there, the connection is refused at once.
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:9/0", "socket_connect_timeout": 1}]},
        }
    }
    channel_layers.backends.clear()
    before = stats.publish_failures
    try:
        # The test's transaction never commits: run the on-commit send as a commit would.
        with (
            caplog.at_level(logging.ERROR, logger="realtime.broadcast"),
            django_capture_on_commit_callbacks(execute=True) as callbacks,
        ):
            event = make_event(cameras["front_door"], 65)
    finally:
        channel_layers.backends.clear()
    assert Event.objects.filter(pk=event.pk).exists()
    assert OutboxMessage.objects.filter(event_type="event.created").count() == 1
    assert len(callbacks) == 1
    assert stats.publish_failures == before + 1
    assert "channel layer unavailable: 1 realtime messages not delivered live" in caplog.text
