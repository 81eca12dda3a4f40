"""The camera watchdog: silence past CAMERA_OFFLINE_SECONDS makes a camera offline, a sign of life online."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from cameras.models import Camera, CameraStatus
from cameras.services import camera_heartbeat, camera_set_enabled, cameras_mark_silent_offline
from events.services import detection_ingest
from realtime.models import OutboxMessage

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock(settings):
    settings.CAMERA_OFFLINE_SECONDS = 120
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def garage(cameras, clock) -> Camera:
    """The garage, online since a heartbeat at T0."""
    camera = camera_heartbeat(camera=cameras["garage"])
    OutboxMessage.objects.all().delete()
    return camera


def camera_messages() -> list[tuple[str, str, str | None]]:
    """(type, camera, previous_status) of every camera message in the outbox, in sequence order."""
    return [
        (row.event_type, row.payload["camera_id"], row.payload.get("previous_status"))
        for row in OutboxMessage.objects.filter(channel="cameras").order_by("id")
    ]


def watch_at(seconds: float, clock) -> list[str]:
    clock.move_to(T0 + timedelta(seconds=seconds))
    return [camera.pk for camera in cameras_mark_silent_offline(now=timezone.now())]


def test_a_silent_camera_goes_offline_once_its_silence_passes_the_limit(garage, clock):
    assert "garage" not in watch_at(119, clock)
    assert "garage" in watch_at(121, clock)
    assert Camera.objects.get(pk="garage").status == CameraStatus.OFFLINE
    assert ("camera.status_changed", "garage", "online") in camera_messages()
    assert ("camera.offline", "garage", None) in camera_messages()


def test_an_offline_camera_is_not_reported_again(garage, clock):
    watch_at(121, clock)
    assert watch_at(300, clock) == []
    assert [m for m in camera_messages() if m[1] == "garage" and m[0] == "camera.offline"] == [
        ("camera.offline", "garage", None)
    ]


def test_a_heartbeat_brings_an_offline_camera_back_online(garage, clock):
    watch_at(121, clock)
    OutboxMessage.objects.all().delete()
    camera_heartbeat(camera=Camera.objects.get(pk="garage"))
    assert camera_messages() == [
        ("camera.status_changed", "garage", "offline"),
        ("camera.online", "garage", None),
    ]


def test_a_detection_brings_an_offline_camera_back_online(garage, clock):
    watch_at(121, clock)
    OutboxMessage.objects.all().delete()
    detection_ingest(
        rows=[{"camera": garage, "object_type": "car", "confidence": 0.9, "detected_at": timezone.now()}]
    )
    assert Camera.objects.get(pk="garage").status == CameraStatus.ONLINE
    assert ("camera.online", "garage", None) in camera_messages()


def test_a_heartbeat_through_an_instance_loaded_before_the_watchdog_still_comes_online(garage, clock):
    loaded_while_online = Camera.objects.get(pk="garage")
    watch_at(121, clock)
    camera_heartbeat(camera=loaded_while_online)
    assert Camera.objects.get(pk="garage").status == CameraStatus.ONLINE
    assert camera_messages()[-1] == ("camera.online", "garage", None)


def test_heartbeats_keep_a_camera_online(garage, clock):
    for seconds in (100, 200, 300):
        clock.move_to(T0 + timedelta(seconds=seconds))
        camera_heartbeat(camera=garage)
        assert "garage" not in watch_at(seconds + 60, clock)
    assert Camera.objects.get(pk="garage").status == CameraStatus.ONLINE


def test_a_disabled_camera_is_not_watched(garage, clock):
    camera_set_enabled(camera=garage, enabled=False)
    assert "garage" not in watch_at(1000, clock)
    assert Camera.objects.get(pk="garage").status == CameraStatus.ONLINE
