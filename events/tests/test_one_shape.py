"""REST answers and live frames describe an event and a detection with the same fields."""

import pytest

from events.models import Event
from events.services import detection_ingest, event_record, event_update
from events.tests.conftest import T0, png_upload
from events.tests.test_services import outbox_payloads

pytestmark = pytest.mark.django_db


def ingest(camera, *rows: dict):
    """Store detections of `camera` through the ingest service; each row overrides the defaults."""
    defaults = {"camera": camera, "object_type": "person", "confidence": 0.8, "detected_at": T0}
    return detection_ingest(rows=[{**defaults, **row} for row in rows])


@pytest.fixture
def scored(cameras, media_root, clock_at_t0):
    """An event grouping three detections: the most confident has no snapshot, two have one."""
    unpictured, best, worse = ingest(
        cameras["front_door"],
        {"confidence": 0.99},
        {"confidence": 0.9, "snapshot": png_upload()},
        {"confidence": 0.6, "snapshot": png_upload()},
    )
    event = event_record(
        camera=cameras["front_door"],
        started_at=T0,
        risk_score=70,
        summary="Person at the door",
        detections=[unpictured, best, worse],
    )
    return {"event": event, "best": best, "unpictured": unpictured}


def test_the_event_created_frame_points_to_the_best_snapshot_of_the_detections_it_groups(scored):
    [payload] = outbox_payloads("event.created")
    assert payload["best_snapshot_url"] == f"/api/detections/{scored['best'].pk}/snapshot/"


def test_an_event_without_snapshots_has_a_null_best_snapshot_url(cameras, clock_at_t0):
    event_record(camera=cameras["garage"], started_at=T0, risk_score=10, summary="Nothing to see")
    assert outbox_payloads("event.created")[0]["best_snapshot_url"] is None


def test_an_event_updated_from_a_plain_row_still_points_to_its_best_snapshot(scored):
    # As the admin does: the row read again, without the list's annotation.
    event_update(event=Event.objects.get(pk=scored["event"].pk), reviewed=True)
    [payload] = outbox_payloads("event.updated")
    assert payload["best_snapshot_url"] == f"/api/detections/{scored['best'].pk}/snapshot/"


def test_rest_and_live_events_have_the_same_fields_and_values(scored, client_for, viewer):
    rest = client_for(viewer).get(f"/api/events/{scored['event'].pk}/").json()
    [live] = outbox_payloads("event.created")
    assert set(rest) == set(live)
    assert rest["camera_name"] == live["camera_name"] == "Front door"
    # REST answers URLs absolute; a frame has no request to take the host from, so it sends the path.
    assert rest["best_snapshot_url"] == f"http://testserver{live['best_snapshot_url']}"


def test_rest_and_live_detections_have_the_same_fields_and_values(scored, client_for, viewer):
    api = client_for(viewer)
    live = {p["id"]: p for p in outbox_payloads("detection.new")}
    for detection in (scored["best"], scored["unpictured"]):
        rest = api.get(f"/api/detections/{detection.pk}/").json()
        assert set(rest) == set(live[detection.pk])
        assert rest["created_at"].replace("Z", "+00:00") == live[detection.pk]["created_at"]
    assert live[scored["best"].pk]["snapshot_url"] == f"/api/detections/{scored['best'].pk}/snapshot/"
    assert live[scored["unpictured"].pk]["snapshot_url"] is None
