"""The write services: they validate what they store, and keep their bookkeeping right."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import AlertStatus, Detection, Event
from events.services import (
    alert_acknowledge,
    detection_ingest,
    event_record,
    event_update,
    events_mark_reviewed,
)
from events.tests.conftest import T0, png_upload
from events.tests.factories import make_alert, make_event, make_rule
from realtime.models import OutboxMessage

pytestmark = pytest.mark.django_db


def row(camera, **changes) -> dict:
    return {"camera": camera, "object_type": "person", "confidence": 0.8, "detected_at": T0, **changes}


def outbox_payloads(event_type: str) -> list[dict]:
    return list(
        OutboxMessage.objects.filter(event_type=event_type).order_by("id").values_list("payload", flat=True)
    )


@pytest.mark.parametrize(
    "bbox",
    [{"x": 1, "y": 2}, {"x": 1, "y": 2, "width": 0, "height": 5}],
    ids=["half a box", "zero width"],
)
def test_detection_ingest_refuses_a_bad_bounding_box_and_stores_nothing(cameras, bbox):
    good = row(cameras["garage"])
    with pytest.raises(ValidationError):
        detection_ingest(rows=[good, row(cameras["garage"], bbox=bbox)])
    assert Detection.objects.count() == 0


@pytest.mark.parametrize("confidence", [-0.01, 1.01])
def test_detection_ingest_refuses_a_confidence_outside_0_to_1_and_stores_nothing(
    cameras, confidence, clock_at_t0
):
    with pytest.raises(ValidationError) as caught:
        detection_ingest(rows=[row(cameras["garage"]), row(cameras["garage"], confidence=confidence)])
    assert list(caught.value.message_dict) == ["confidence"]
    assert Detection.objects.count() == 0


def test_detection_ingest_takes_as_many_queries_for_forty_rows_as_for_one(cameras, clock_at_t0):
    camera = cameras["garage"]
    detection_ingest(rows=[row(camera)])  # the camera's batch is open from here on
    with CaptureQueriesContext(connection) as one:
        detection_ingest(rows=[row(camera)])
    with CaptureQueriesContext(connection) as forty:
        detection_ingest(rows=[row(camera, confidence=n / 40) for n in range(40)])
    assert len(forty) == len(one)
    assert Detection.objects.count() == 42


def test_event_record_refuses_an_event_that_ends_before_it_starts(cameras):
    with pytest.raises(ValidationError, match="end before it starts"):
        event_record(
            camera=cameras["garage"],
            started_at=T0,
            ended_at=T0 - timedelta(seconds=1),
            risk_score=10,
            summary="Backwards",
        )
    assert Event.objects.count() == 0


def test_event_update_bumps_updated_at(cameras):
    with time_machine.travel(T0, tick=False):
        event = make_event(cameras["garage"], 20)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        event_update(event=event, notes="The neighbour's cat")
    event.refresh_from_db()
    assert (event.notes, event.updated_at) == ("The neighbour's cat", T0 + timedelta(minutes=5))
    assert outbox_payloads("event.updated")[0]["updated_at"] == (T0 + timedelta(minutes=5)).isoformat()


def test_events_mark_reviewed_counts_only_the_events_it_changed(cameras):
    already = make_event(cameras["garage"], 20)
    event_update(event=already, reviewed=True)
    fresh = [make_event(cameras["garage"], 30), make_event(cameras["front_door"], 40)]
    assert events_mark_reviewed(events=Event.objects.filter(pk__in=[already.pk, *(e.pk for e in fresh)])) == 2
    assert Event.objects.filter(reviewed=True).count() == 3
    assert sorted(p["id"] for p in outbox_payloads("event.updated")) == [already.pk, *(e.pk for e in fresh)]


def test_snapshot_url_is_set_only_for_a_detection_stored_with_one(cameras, media_root, clock_at_t0):
    _, pictured = detection_ingest(
        rows=[row(cameras["garage"]), row(cameras["garage"], snapshot=png_upload())]
    )
    assert [p["snapshot_url"] for p in outbox_payloads("detection.new")] == [
        None,
        f"/api/detections/{pictured.pk}/snapshot/",
    ]


def test_an_event_moved_to_another_camera_names_camera_id_among_its_updated_fields(cameras):
    event = make_event(cameras["garage"], 20)
    event.camera = cameras["front_door"]
    event.save(update_fields=["camera"])
    assert [(p["camera_id"], p["updated_fields"]) for p in outbox_payloads("event.updated")] == [
        ("front_door", ["camera_id"])
    ]


def test_an_alert_given_a_rule_names_rule_id_among_its_updated_fields(cameras):
    alert = make_alert(cameras["garage"])
    alert.rule = make_rule("Late visitors")
    alert.save(update_fields=["rule"])
    assert [(p["rule_id"], p["updated_fields"]) for p in outbox_payloads("alert.updated")] == [
        (alert.rule.pk, ["rule_id"])
    ]


def test_an_unchanged_update_publishes_nothing(cameras):
    event = make_event(cameras["garage"], 20)
    event_update(event=event, reviewed=False, notes="")
    event.save(update_fields=["camera"])
    assert outbox_payloads("event.updated") == []


@pytest.mark.parametrize("user", [None, AnonymousUser()], ids=["no user", "anonymous"])
def test_an_alert_moved_by_no_one_in_particular_records_no_one(cameras, user):
    alert = alert_acknowledge(alert=make_alert(cameras["garage"]), user=user)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, None)
    assert alert.acknowledged_at is not None
