"""The events history, event and camera pages (Django test client): owner, viewer, stranger, anonymous."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from events.models import Event
from events.services import detection_ingest, event_record
from realtime.models import OutboxMessage

# Fixed times: the pages read them back, and the chart's window is pinned with started_before.
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HISTORY = "/events/"


def shown_ids(response, list_id: str = "history") -> list[int]:
    """The event ids listed in the page's list `list_id`, top to bottom."""
    body = response.content.decode()
    listed = body.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    return [int(n) for n in re.findall(r'id="event-(\d+)"', listed)]


def record(camera, *, hours: float = 0, score: int = 40, summary: str = "", **fields) -> Event:
    return event_record(
        camera=camera,
        started_at=T0 - timedelta(hours=hours),
        risk_score=score,
        summary=summary or f"Event at {camera.pk} {hours}h before T0",
        **fields,
    )


@pytest.fixture
def history(cameras):
    """Events on every camera at every level, newest first: front_door and garage visible to the viewer."""
    return {
        "door_low": record(cameras["front_door"], hours=1, score=10, object_types=["cat"]),
        "door_high": record(cameras["front_door"], hours=2, score=70, object_types=["person"]),
        "garage_medium": record(cameras["garage"], hours=3, score=45, object_types=["car", "person"]),
        "garage_critical": record(
            cameras["garage"], hours=3.5, score=90, summary="Garage door forced", object_types=["person"]
        ),
        "backyard_critical": record(cameras["backyard"], hours=4, score=95, object_types=["person"]),
    }


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # The detections are stored at the fixed times of these tests.
    settings.DETECTION_CLOCK_SKEW_SECONDS = 10 * 365 * 86400
    return settings.MEDIA_ROOT


def frame_upload(width: int = 320, height: int = 180) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "navy").save(buffer, format="PNG")
    return SimpleUploadedFile("frame.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def pictured(cameras, media_root):
    """An event of two frames: a person and a package in one (with a snapshot), a person alone (without)."""
    at = T0 - timedelta(minutes=5)
    row = {"camera": cameras["front_door"], "detected_at": at}
    person, package, later = detection_ingest(
        rows=[
            {
                **row,
                "object_type": "person",
                "confidence": 0.91,
                "bbox": {"x": 40, "y": 30, "width": 60, "height": 120},
                "snapshot": frame_upload(),
            },
            {
                **row,
                "object_type": "package",
                "confidence": 0.66,
                "bbox": {"x": 200, "y": 140, "width": 30, "height": 20},
            },
            {
                **row,
                "detected_at": at + timedelta(seconds=4),
                "object_type": "person",
                "confidence": 0.8,
                "bbox": {"x": 250, "y": 20, "width": 40, "height": 100},
            },
        ]
    )
    event = event_record(
        camera=cameras["front_door"],
        started_at=at,
        risk_score=72,
        summary="Person leaving a package",
        reasoning="A person at the door at night.\nA package left behind.",
        object_types=["package", "person"],
        detection_count=3,
        detections=[person, package, later],
    )
    return {"event": event, "person": person, "package": package, "later": later}


# ---- who sees what --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [HISTORY, "/events/{event}/", "/cameras/front_door/"])
def test_anonymous_is_sent_to_sign_in_from_every_page(client, history, url):
    url = url.format(event=history["door_low"].pk)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", ["door_low", "door_high", "garage_medium", "garage_critical", "backyard_critical"]),
        ("staff_member", ["door_low", "door_high", "garage_medium", "garage_critical", "backyard_critical"]),
        ("viewer", ["door_low", "door_high", "garage_medium", "garage_critical"]),
        ("stranger", []),
    ],
)
def test_history_lists_newest_first_only_the_events_of_cameras_one_may_see(
    client, request, history, who, expected
):
    client.force_login(request.getfixturevalue(who))
    response = client.get(HISTORY)
    assert response.status_code == 200
    assert shown_ids(response) == [history[name].pk for name in expected]
    assert f"{len(expected)} event" in response.content.decode()


def test_the_stranger_is_told_there_are_no_events(client, stranger, history):
    client.force_login(stranger)
    body = client.get(HISTORY).content.decode()
    assert "No events." in body and "Event at" not in body


def test_history_rows_link_to_the_event_and_its_camera(client, viewer, history):
    client.force_login(viewer)
    body = client.get(HISTORY).content.decode()
    assert f'href="/events/{history["door_high"].pk}/"' in body
    assert 'href="/cameras/front_door/">Front door</a>' in body
    assert '<span class="badge risk-high">High 70</span>' in body


def test_the_camera_filter_offers_only_the_cameras_one_may_see(client, viewer, history):
    client.force_login(viewer)
    form = client.get(HISTORY).context["form"]
    assert [value for value, _ in form.fields["camera"].widget.choices] == ["", "front_door", "garage"]


# ---- filters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("camera=garage", ["garage_medium", "garage_critical"]),
        ("risk_level=high", ["door_high"]),
        ("min_risk_score=45", ["door_high", "garage_medium", "garage_critical"]),
        ("object_type=person", ["door_high", "garage_medium", "garage_critical"]),
        ("q=forced", ["garage_critical"]),
        # datetime-local values, as the form sends them (naive: TIME_ZONE, UTC here).
        ("started_after=2026-11-20T09:00&started_before=2026-11-20T10:30", ["door_high", "garage_medium"]),
        ("camera=backyard", []),  # a hidden camera named in the query shows nothing
        ("camera=front_door&risk_level=low", ["door_low"]),
    ],
)
def test_filters_narrow_the_list_as_the_api_does(client, viewer, history, query, expected):
    client.force_login(viewer)
    response = client.get(f"{HISTORY}?{query}")
    assert response.status_code == 200
    assert shown_ids(response) == [history[name].pk for name in expected]


def test_reviewed_filter_lists_reviewed_or_not(client, viewer, history):
    client.force_login(viewer)
    client.post(reverse("event-review", args=[history["door_high"].pk]), {"reviewed": "on", "notes": ""})
    assert shown_ids(client.get(f"{HISTORY}?reviewed=true")) == [history["door_high"].pk]
    assert history["door_high"].pk not in shown_ids(client.get(f"{HISTORY}?reviewed=false"))


@pytest.mark.parametrize(
    "query", ["risk_level=extreme", "reviewed=maybe", "started_after=yesterday", "min_risk_score=101"]
)
def test_an_invalid_filter_answers_400_with_its_error_and_lists_nothing(client, viewer, history, query):
    client.force_login(viewer)
    response = client.get(f"{HISTORY}?{query}")
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="history"' not in body and "Event at" not in body
    assert 'class="field-error"' in body


def test_the_export_link_carries_the_filters_an_export_takes(client, viewer, history):
    client.force_login(viewer)
    body = client.get(f"{HISTORY}?camera=garage&min_risk_score=45&q=door&started_after=").content.decode()
    assert '<a href="/jobs/?camera=garage&amp;min_risk_score=45">Export to a file</a>' in body


# ---- pagination -------------------------------------------------------------------------------------


def test_pages_of_25_follow_each_other_without_gaps_or_repeats_and_keep_the_filters(client, viewer, cameras):
    door = [record(cameras["front_door"], hours=n / 10) for n in range(30)]
    record(cameras["garage"], hours=0.05)  # filtered out
    client.force_login(viewer)
    first = client.get(f"{HISTORY}?camera=front_door")
    assert shown_ids(first) == [e.pk for e in door[:25]]
    next_url = first.context["page"].next_url
    assert "camera=front_door" in next_url and "cursor=" in next_url
    second = client.get(next_url)
    assert shown_ids(second) == [e.pk for e in door[25:]]
    assert second.context["page"].next_url is None
    back = client.get(second.context["page"].previous_url)
    assert shown_ids(back) == [e.pk for e in door[:25]]


def test_a_forged_cursor_answers_404(client, viewer, history):
    client.force_login(viewer)
    garbage_position = "cD1nYXJiYWdl"  # base64 of p=garbage
    assert client.get(f"{HISTORY}?cursor={garbage_position}").status_code == 404


def test_history_takes_as_many_queries_for_many_events_as_for_few(client, viewer, cameras, media_root):
    client.force_login(viewer)
    record(cameras["front_door"], hours=1)
    with CaptureQueriesContext(connection) as few:
        client.get(HISTORY)
    for n in range(20):
        record(cameras["garage"], hours=n / 10)
    with CaptureQueriesContext(connection) as many:
        client.get(HISTORY)
    assert len(many) == len(few)


def test_the_dashboard_takes_as_many_queries_for_many_events_as_for_few(client, viewer, cameras):
    client.force_login(viewer)
    record(cameras["front_door"], hours=1)
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for n in range(20):
        record(cameras["garage"], hours=n / 10)
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many) == len(few)


# ---- the timeline chart ------------------------------------------------------------------------------


def test_the_chart_counts_the_visible_filtered_events_per_hour_and_level(client, viewer, cameras, history):
    record(cameras["front_door"], hours=1.5, score=75)  # 10:30: a second high one in the 10:00 hour
    record(cameras["front_door"], hours=30)  # before the 24 hours: not charted
    client.force_login(viewer)
    response = client.get(f"{HISTORY}?started_before=2026-11-20T12:00")
    chart = response.context["chart"]
    counts = {slot.start.strftime("%H:%M"): slot.counts for slot in chart.slots if slot.total}
    assert counts == {
        "08:00": {"low": 0, "medium": 0, "high": 0, "critical": 1},
        "09:00": {"low": 0, "medium": 1, "high": 0, "critical": 0},
        "10:00": {"low": 0, "medium": 0, "high": 2, "critical": 0},
        "11:00": {"low": 1, "medium": 0, "high": 0, "critical": 0},
    }
    assert len(chart.slots) == 24 and chart.slots[-1].start == datetime(2026, 11, 20, 11, tzinfo=UTC)
    body = response.content.decode()
    assert "24 hours to Nov 20, 12:00: 5 events, the most (2) at 10:00." in body
    assert "<td>0</td><td>0</td><td>2</td><td>0</td><td>2</td>" in body  # the 10:00 row of the table
    assert body.count('<rect class="bar-') == 4


def test_the_chart_follows_the_filters(client, viewer, history):
    client.force_login(viewer)
    chart = client.get(f"{HISTORY}?started_before=2026-11-20T12:00&camera=garage").context["chart"]
    assert chart.total == 2
    assert {slot.start.hour: slot.total for slot in chart.slots if slot.total} == {8: 1, 9: 1}


# ---- one event ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("viewer", 404), ("stranger", 404)])
def test_a_hidden_cameras_event_is_404_to_those_who_may_not_see_it(client, request, history, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/events/{history['backyard_critical'].pk}/").status_code == status


def test_the_event_page_shows_summary_reasoning_risk_camera_times_and_detections(client, viewer, pictured):
    client.force_login(viewer)
    event = pictured["event"]
    body = client.get(f"/events/{event.pk}/").content.decode()
    assert '<h1 class="page-title">Person leaving a package</h1>' in body
    assert "A person at the door at night.\nA package left behind." in body
    assert '<span class="badge risk-high">High 72</span>' in body and "High, score 72 of 100" in body
    assert '<a href="/cameras/front_door/">Front door</a> (Porch)' in body
    assert f'<time datetime="{event.started_at.isoformat()}">Nov 20, 2026, 11:55:00</time>' in body
    for detection in (pictured["person"], pictured["package"], pictured["later"]):
        assert f'id="detection-{detection.pk}"' in body
    assert "40, 30, 60 × 120" in body


def test_boxes_of_one_frame_are_drawn_over_its_snapshot(client, viewer, pictured):
    client.force_login(viewer)
    body = client.get(f"/events/{pictured['event'].pk}/").content.decode()
    snapshot = f"/api/detections/{pictured['person'].pk}/snapshot/"
    assert '<svg class="frame-svg" viewBox="0 0 320 180"' in body
    assert f'<image href="{snapshot}" width="320" height="180"/>' in body
    assert '<rect x="40" y="30" width="60" height="120"' in body  # the person
    assert '<rect x="200" y="140" width="30" height="20"' in body  # the package, same frame
    assert body.count('<g class="box">') == 2  # the later person has no snapshot: listed only
    assert "person (91%), package (66%) marked" in body
    assert client.get(snapshot)["Content-Type"] == "image/png"


def test_an_event_without_snapshots_lists_its_detections_plainly(client, viewer, cameras, media_root):
    [detection] = detection_ingest(
        rows=[{"camera": cameras["garage"], "detected_at": T0, "object_type": "car", "confidence": 0.7}]
    )
    event = record(cameras["garage"], detections=[detection])
    client.force_login(viewer)
    body = client.get(f"/events/{event.pk}/").content.decode()
    assert "No snapshot came with this event" in body and '<svg class="frame-svg"' not in body
    assert f'id="detection-{detection.pk}"' in body


# ---- reviewing without JavaScript --------------------------------------------------------------------


def test_the_review_form_saves_reviewed_and_notes_through_the_service(client, viewer, history):
    client.force_login(viewer)
    event = history["door_high"]
    response = client.post(
        reverse("event-review", args=[event.pk]), {"reviewed": "on", "notes": "The postman"}, follow=True
    )
    event.refresh_from_db()
    assert (event.reviewed, event.notes) == (True, "The postman")
    assert "Review saved." in response.content.decode()
    updated = OutboxMessage.objects.filter(event_type="event.updated").values_list("payload", flat=True)
    assert [p["updated_fields"] for p in updated] == [["notes", "reviewed"]]
    client.post(reverse("event-review", args=[event.pk]), {"notes": "The postman"})
    event.refresh_from_db()
    assert event.reviewed is False  # an unticked box is sent as nothing


def test_the_review_form_refuses_notes_the_api_would_refuse(client, viewer, history):
    client.force_login(viewer)
    event = history["door_high"]
    response = client.post(reverse("event-review", args=[event.pk]), {"notes": "x" * 10_001}, follow=True)
    event.refresh_from_db()
    assert event.notes == ""
    assert (
        "Review not saved. notes: Ensure this field has no more than 10000 characters."
        in response.content.decode()
    )
    assert 'maxlength="10000"' in response.content.decode()


@pytest.mark.parametrize("who", ["viewer", "stranger"])
def test_a_hidden_event_cannot_be_reviewed(client, request, history, who):
    client.force_login(request.getfixturevalue(who))
    event = history["backyard_critical"]
    response = client.post(reverse("event-review", args=[event.pk]), {"reviewed": "on"})
    event.refresh_from_db()
    assert response.status_code == 404 and event.reviewed is False


def test_the_review_needs_post_and_sign_in(client, owner, history):
    event = history["door_high"]
    response = client.post(reverse("event-review", args=[event.pk]), {"reviewed": "on"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    event.refresh_from_db()
    assert event.reviewed is False
    client.force_login(owner)
    assert client.get(reverse("event-review", args=[event.pk])).status_code == 405


# ---- one camera ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "camera", "status"),
    [
        ("owner", "backyard", 200),
        ("viewer", "garage", 200),
        ("viewer", "backyard", 404),
        ("stranger", "front_door", 404),
        ("owner", "no_such_camera", 404),
    ],
)
def test_the_camera_page_is_404_to_those_who_may_not_see_the_camera(
    client, request, cameras, who, camera, status
):
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/cameras/{camera}/").status_code == status


def test_the_camera_page_shows_status_last_seen_latest_snapshot_and_its_recent_events(
    client, viewer, cameras, history, pictured
):
    older = {
        "camera": cameras["front_door"],
        "object_type": "car",
        "confidence": 0.99,
        "snapshot": frame_upload(),
    }
    detection_ingest(rows=[{**older, "detected_at": T0 - timedelta(days=1)}])  # more confident, but older
    camera = cameras["front_door"]
    camera.status, camera.last_seen_at = "online", T0
    camera.save()
    client.force_login(viewer)
    response = client.get("/cameras/front_door/")
    body = response.content.decode()
    assert '<span class="badge status-online" id="camera-status">Online</span>' in body
    assert "Nov 20, 2026, 12:00:00" in body
    assert f'<img class="frame-image" src="/api/detections/{pictured["person"].pk}/snapshot/"' in body
    assert shown_ids(response, "camera-events") == [
        pictured["event"].pk,
        history["door_low"].pk,
        history["door_high"].pk,
    ]
    assert 'href="/events/?camera=front_door"' in body


def test_a_camera_without_snapshots_or_events_says_so(client, viewer, cameras):
    client.force_login(viewer)
    body = client.get("/cameras/garage/").content.decode()
    assert "No snapshot from this camera yet." in body and "No events from this camera." in body
    assert "Last seen</dt><dd>Never" in body


def test_the_navigation_marks_the_current_page(client, viewer, history):
    client.force_login(viewer)
    body = client.get(HISTORY).content.decode()
    assert '<a href="/events/" aria-current="page">Events</a>' in body
