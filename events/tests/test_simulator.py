"""The demo simulator: deterministic for a seed, the household's day and night, an intruder that
alerts critical and a camera that drops offline and comes back — through the real ingest path."""

import re
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from cameras.models import Camera, CameraStatus
from cameras.services import cameras_mark_silent_offline
from events.demo import DEMO_CAMERAS, demo_household_seed
from events.models import Alert, Event
from events.pipeline import batches_close_due
from events.risk import RiskLevel
from events.simulator import FLAKY_CAMERA, DemoTraffic, IngestSink, is_night
from realtime.models import OutboxMessage

BERLIN = ZoneInfo("Europe/Berlin")
CAMERAS = [slug for slug, _, _ in DEMO_CAMERAS]
STEP = timedelta(seconds=5)


@pytest.fixture(autouse=True)
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


def ticks(traffic: DemoTraffic, start: datetime, duration: timedelta):
    """(time, tick) every STEP from `start` for `duration`."""
    at = start
    while at < start + duration:
        yield at, traffic.tick(at)
        at += STEP


def test_the_same_seed_gives_the_same_traffic_and_another_seed_other_traffic():
    start = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)

    def run(seed):
        return [
            (at, tick)
            for at, tick in ticks(DemoTraffic(seed=seed, cameras=CAMERAS), start, timedelta(hours=6))
        ]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_days_bring_people_cars_pets_and_packages_and_nights_an_intruder():
    traffic = DemoTraffic(seed=3, cameras=CAMERAS)
    seen = {"day": Counter(), "night": Counter()}
    intruders = []
    for at, tick in ticks(traffic, datetime(2026, 11, 23, 0, 0, tzinfo=BERLIN), timedelta(days=2)):
        part = "night" if is_night(at) else "day"
        seen[part].update((row["camera_id"], row["object_type"]) for row in tick.detections)
        if tick.scenario == "intruder":
            intruders.append(tick)
    day = {kind for _, kind in seen["day"]}
    assert {"person", "car", "dog", "cat", "package"} <= day
    assert ("driveway", "car") in seen["day"] and ("front_door", "package") in seen["day"]
    # Nights are quieter than days, and only an intruder brings people at night.
    assert sum(seen["night"].values()) < sum(seen["day"].values())
    assert "package" not in {kind for _, kind in seen["night"]}
    assert intruders and all(is_night(tick.detections[0]["detected_at"]) for tick in intruders)
    assert {row["object_type"] for tick in intruders for row in tick.detections} == {"person"}


def traffic_delivered(start: datetime, duration: timedelta, *, until=None) -> None:
    """Deliver the seeded household's traffic through the ingest services, the worker's watchdog
    and batch closing running beside it, tick by tick on a travelled clock."""
    traffic = DemoTraffic(seed=3, cameras=CAMERAS)
    sink = IngestSink()
    with time_machine.travel(start, tick=False) as clock:
        at = start
        while at < start + duration:
            sink.deliver(traffic.tick(timezone.now()))
            cameras_mark_silent_offline()
            batches_close_due()
            if until and until():
                return
            at += STEP
            clock.move_to(at)


@pytest.mark.django_db
def test_a_night_intruder_scores_critical_and_the_seeded_rules_alert():
    demo_household_seed(admin_password="a", viewer_password="v")
    critical = Alert.objects.filter(severity=RiskLevel.CRITICAL)
    traffic_delivered(datetime(2026, 11, 23, 22, 0, tzinfo=BERLIN), timedelta(hours=8), until=critical.exists)

    alert = critical.select_related("event", "rule").first()
    assert alert is not None, "no critical alert in a night of traffic"
    assert alert.event.camera_id in {"garage", "backyard"}
    # The intruder: several people in one frame (the analyzer's summary counts them).
    assert re.match(r"[23] people", alert.event.summary), alert.event.summary
    # One alert for one intruder: no two seeded rules watch the same thing.
    assert [a.rule.name for a in Alert.objects.filter(event=alert.event)] == ["High risk anywhere"]
    assert OutboxMessage.objects.filter(event_type="alert.created").count() == Alert.objects.count()
    assert Event.objects.filter(risk_level=RiskLevel.CRITICAL).exists()


@pytest.mark.django_db
def test_the_flaky_camera_goes_offline_and_comes_back(settings):
    demo_household_seed(admin_password="a", viewer_password="v")
    flaky = OutboxMessage.objects.filter(camera_id=FLAKY_CAMERA)
    traffic_delivered(
        datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN),
        timedelta(hours=1),
        until=lambda: flaky.filter(event_type="camera.online", id__gt=offline_id()).exists(),
    )

    assert Camera.objects.get(pk=FLAKY_CAMERA).status == CameraStatus.ONLINE
    assert flaky.filter(event_type="camera.offline").exists()
    # Only the flaky camera went silent.
    assert set(
        OutboxMessage.objects.filter(event_type="camera.offline").values_list("camera_id", flat=True)
    ) == {FLAKY_CAMERA}


def offline_id() -> int:
    first = OutboxMessage.objects.filter(camera_id=FLAKY_CAMERA, event_type="camera.offline").first()
    return first.pk if first else 10**12
