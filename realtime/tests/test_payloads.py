"""What each payload carries: every field a dashboard renders, as JSON primitives msgpack can pack.

The builders read model instances only, so these tests build them in memory; the broadcast
tests (`test_broadcast.py`) show the same payloads reaching the layer after a real save.
"""

import uuid
from datetime import UTC, datetime, timedelta

import msgpack
import pytest
from django.contrib.auth import get_user_model

from cameras.models import Camera
from events.models import Alert, Detection, DetectionBatch, Event, Job
from realtime.payloads import (
    alert_payload,
    camera_payload,
    detection_batch_payload,
    detection_payload,
    enrichment_payload,
    event_payload,
    iso,
    job_payload,
)

T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
JOB_ID = uuid.UUID("0b0e2a4c-3f4e-4a59-9d4e-7a1c2b3d4e5f")


def packable(payload: dict) -> bool:
    """msgpack (the Redis channel layer) round-trips JSON primitives only: a UUID or datetime fails."""
    return msgpack.unpackb(msgpack.packb(payload)) == payload


@pytest.fixture
def garage():
    return Camera(id="garage", name="Garage", location="side door", status="online", enabled=False)


@pytest.fixture
def event(garage):
    return Event(
        id=41,
        camera=garage,
        batch_id="b-7",
        started_at=T0,
        ended_at=T0 + timedelta(seconds=30),
        risk_score=72,
        risk_level="high",
        summary="Person at the side door",
        reasoning="person at night",
        object_types=["person", "car"],
        detection_count=3,
        reviewed=True,
        notes="checked",
        created_at=T0 + timedelta(seconds=31),
        updated_at=T0 + timedelta(seconds=32),
    )


@pytest.fixture
def event_read_with_its_best_snapshot(event):
    """As the selectors read events for pages and frames: annotated with their best snapshot's id."""
    event.best_snapshot_id = 12
    return event


def test_iso_writes_an_aware_time_with_its_offset_and_keeps_none():
    assert iso(T0) == "2026-03-04T05:06:07.123456+00:00"
    assert iso(None) is None


def test_camera_payload(garage):
    payload = camera_payload(garage)
    assert payload == {
        "camera_id": "garage",
        "camera_name": "Garage",
        "location": "side door",
        "status": "online",
        "enabled": False,
        "last_seen_at": None,
    }
    garage.last_seen_at = T0
    assert camera_payload(garage)["last_seen_at"] == "2026-03-04T05:06:07.123456+00:00"
    assert packable(payload)


def test_detection_payload_with_a_box_and_a_snapshot(garage):
    detection = Detection(
        id=9,
        camera=garage,
        object_type="person",
        confidence=0.87,
        bbox_x=1,
        bbox_y=2,
        bbox_width=30,
        bbox_height=40,
        detected_at=T0,
        batch_id=5,
        event_id=41,
        snapshot="snapshots/2026/03/04/a.png",
        created_at=T0 + timedelta(seconds=1),
    )
    payload = detection_payload(detection)
    assert payload == {
        "id": 9,
        "camera_id": "garage",
        "object_type": "person",
        "confidence": 0.87,
        "bbox": {"x": 1, "y": 2, "width": 30, "height": 40},
        "detected_at": "2026-03-04T05:06:07.123456+00:00",
        "batch_id": 5,
        "event_id": 41,
        "snapshot_url": "/api/detections/9/snapshot/",
        "created_at": "2026-03-04T05:06:08.123456+00:00",
    }
    assert packable(payload)


def test_a_detection_without_a_snapshot_says_so(garage):
    detection = Detection(id=9, camera=garage, object_type="cat", confidence=0.5, detected_at=T0)
    payload = detection_payload(detection)
    assert payload["snapshot_url"] is None
    assert payload["bbox"] is None
    assert payload["batch_id"] is None
    assert payload["event_id"] is None


def test_detection_batch_payload(garage):
    batch = DetectionBatch(
        id=5, camera=garage, source_batch_id="cam-17", opened_at=T0, closed_at=T0 + timedelta(seconds=90)
    )
    payload = detection_batch_payload(batch, [9, 10, 11])
    assert payload == {
        "batch_id": 5,
        "camera_id": "garage",
        "source_batch_id": "cam-17",
        "detection_ids": [9, 10, 11],
        "detection_count": 3,
        "opened_at": "2026-03-04T05:06:07.123456+00:00",
        "closed_at": "2026-03-04T05:07:37.123456+00:00",
    }
    assert packable(payload)


def test_enrichment_payload_names_the_batch_and_camera_beside_the_stage_figures(garage):
    batch = DetectionBatch(id=5, camera=garage, opened_at=T0)
    payload = enrichment_payload(batch, {"progress": 50, "current_step": "scoring"})
    assert payload == {"batch_id": 5, "camera_id": "garage", "progress": 50, "current_step": "scoring"}


def test_event_payload(event_read_with_its_best_snapshot):
    payload = event_payload(event_read_with_its_best_snapshot)
    assert payload == {
        "id": 41,
        "camera_id": "garage",
        "camera_name": "Garage",
        "batch_id": "b-7",
        "started_at": "2026-03-04T05:06:07.123456+00:00",
        "ended_at": "2026-03-04T05:06:37.123456+00:00",
        "risk_score": 72,
        "risk_level": "high",
        "summary": "Person at the side door",
        "reasoning": "person at night",
        "object_types": ["person", "car"],
        "detection_count": 3,
        "reviewed": True,
        "notes": "checked",
        "best_snapshot_url": "/api/detections/12/snapshot/",
        "created_at": "2026-03-04T05:06:38.123456+00:00",
        "updated_at": "2026-03-04T05:06:39.123456+00:00",
    }
    assert packable(payload)


def test_alert_payload_carries_the_event_it_is_about(event):
    acknowledger = get_user_model()(username="owner")
    alert = Alert(
        id=3,
        event=event,
        rule_id=8,
        severity="high",
        status="acknowledged",
        message="Risk 72 at Garage",
        acknowledged_by=acknowledger,
        acknowledged_at=T0 + timedelta(minutes=1),
        resolved_at=T0 + timedelta(minutes=2),
        dismissed_at=T0 + timedelta(minutes=3),
        created_at=T0 + timedelta(minutes=4),
        updated_at=T0 + timedelta(minutes=5),
    )
    payload = alert_payload(alert)
    assert payload == {
        "id": 3,
        "event_id": 41,
        "camera_id": "garage",
        "camera_name": "Garage",
        "severity": "high",
        "status": "acknowledged",
        "message": "Risk 72 at Garage",
        "rule_id": 8,
        "risk_score": 72,
        "risk_level": "high",
        "summary": "Person at the side door",
        "started_at": "2026-03-04T05:06:07.123456+00:00",
        "acknowledged_by": "owner",
        "acknowledged_at": "2026-03-04T05:07:07.123456+00:00",
        "resolved_at": "2026-03-04T05:08:07.123456+00:00",
        "dismissed_at": "2026-03-04T05:09:07.123456+00:00",
        "created_at": "2026-03-04T05:10:07.123456+00:00",
        "updated_at": "2026-03-04T05:11:07.123456+00:00",
    }
    assert packable(payload)


def test_an_unacknowledged_alert_names_nobody(event):
    payload = alert_payload(Alert(id=3, event=event, severity="high", status="pending"))
    assert payload["acknowledged_by"] is None
    assert payload["acknowledged_at"] is None


def make_job(**fields) -> Job:
    values = {
        "id": JOB_ID,
        "job_type": "export",
        "status": "completed",
        "progress": 100,
        "message": "3 events",
        "result": {"rows": 3},
        "params": {"format": "csv"},
        "error": "",
        "created_at": T0,
        "started_at": T0 + timedelta(seconds=1),
        "finished_at": T0 + timedelta(seconds=2),
    }
    return Job(**(values | fields))


def test_a_finished_exports_payload_says_where_to_download_it():
    payload = job_payload(make_job())
    assert payload == {
        "result": {"rows": 3},
        "download_url": f"/api/jobs/{JOB_ID}/download/",
        "job_id": str(JOB_ID),
        "job_type": "export",
        "status": "completed",
        "progress": 100,
        "message": "3 events",
        "params": {"format": "csv"},
        "error": "",
        "created_at": "2026-03-04T05:06:07.123456+00:00",
        "started_at": "2026-03-04T05:06:08.123456+00:00",
        "finished_at": "2026-03-04T05:06:09.123456+00:00",
    }
    assert packable(payload)


@pytest.mark.parametrize(
    "fields",
    [{"status": "running", "finished_at": None}, {"job_type": "reanalyze"}, {"status": "failed"}],
    ids=["running export", "finished reanalysis", "failed export"],
)
def test_only_a_completed_export_has_a_download_url(fields):
    assert job_payload(make_job(**fields))["download_url"] is None
