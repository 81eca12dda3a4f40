"""The detections API: visibility, filters, pagination, single and bulk posts, snapshots."""

import io
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image, PngImagePlugin

from cameras.models import Camera
from cameras.tests.conftest import answers
from events.models import Detection, DetectionBatch
from events.tests.conftest import (
    SEEN_NEWEST_FIRST,
    T0,
    assert_pages_stable,
    assert_refused,
    cameras_seen,
    one_per_camera,
    png_bytes,
    png_upload,
    result_ids,
)

# Detections must be recent (DETECTION_CLOCK_SKEW_SECONDS): these tests post times around T0.
pytestmark = pytest.mark.usefixtures("clock_at_t0")

LIST = "/api/detections/"


def detail(pk: int) -> str:
    return f"/api/detections/{pk}/"


def snapshot(pk: int) -> str:
    return f"/api/detections/{pk}/snapshot/"


def row(**changes) -> dict:
    """A valid detection payload."""
    return {
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.87,
        "detected_at": "2026-11-23T10:15:00+01:00",
        "bbox": {"x": 10, "y": 20, "width": 30, "height": 40},
        **changes,
    }


@pytest.fixture
def detections(make_detection) -> dict[str, Detection]:
    return one_per_camera(make_detection)


# Reading


def test_every_signed_in_user_may_list_detections_and_anonymous_may_not(statuses, detections):
    assert statuses("get", LIST) == answers(200)


def test_each_user_lists_only_detections_of_cameras_they_may_see_newest_first(client_for, users, detections):
    assert cameras_seen(client_for, users, LIST) == SEEN_NEWEST_FIRST


def batch_of(camera) -> DetectionBatch:
    return DetectionBatch.objects.create(camera=camera, opened_at=T0, last_detection_at=T0)


def test_a_detection_reads_with_camera_id_bbox_and_iso_times(client_for, viewer, cameras, make_detection):
    batch = batch_of(cameras["front_door"])
    detection = make_detection(bbox_x=1, bbox_y=2, bbox_width=3, bbox_height=4, batch=batch)
    assert client_for(viewer).get(detail(detection.pk)).json() == {
        "id": detection.pk,
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.9,
        "bbox": {"x": 1, "y": 2, "width": 3, "height": 4},
        "detected_at": "2026-11-23T10:00:00Z",
        "snapshot_url": None,
        "batch_id": batch.pk,
        "event_id": None,
        "created_at": detection.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_a_hidden_cameras_detection_answers_404(statuses, detections):
    assert statuses("get", detail(detections["backyard"].pk)) == answers(404, owner=200)


def test_listing_detections_takes_one_query_however_many_there_are(
    client_for, viewer, make_detection, django_assert_num_queries
):
    for minute in range(30):
        make_detection("front_door" if minute % 2 else "garage", minutes=minute)
    with django_assert_num_queries(1):
        response = client_for(viewer).get(LIST)
    assert len(response.json()["results"]) == 30


@pytest.fixture
def varied(cameras, make_detection, make_event) -> dict[str, Detection]:
    event = make_event("garage")
    # The front door's batch is the first one made, so its batch_id is the lowest.
    front, garage = batch_of(cameras["front_door"]), batch_of(cameras["garage"])
    assert front.pk < garage.pk
    return {
        "person": make_detection("front_door", minutes=0, object_type="person", confidence=0.95, batch=front),
        "car": make_detection(
            "garage", minutes=10, object_type="car", confidence=0.6, event=event, batch=garage
        ),
        "dog": make_detection("front_door", minutes=20, object_type="dog", confidence=0.3, batch=front),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("camera=garage", ["car"]),
        ("camera=front_door", ["dog", "person"]),
        ("camera=backyard", []),
        ("object_type=dog", ["dog"]),
        ("min_confidence=0.6", ["car", "person"]),
        ("min_confidence=0.96", []),
        ("detected_after=2026-11-23T10:10:00Z", ["dog", "car"]),
        ("detected_before=2026-11-23T10:10:00Z", ["person"]),
        (
            "detected_after=2026-11-23T11:05:00%2B01:00&detected_before=2026-11-23T11:20:01%2B01:00",
            ["dog", "car"],
        ),
        ("batch_id={front_door_batch}", ["dog", "person"]),
        ("", ["dog", "car", "person"]),
    ],
)
def test_each_detection_filter_narrows_the_list(client_for, viewer, varied, query, expected):
    query = query.replace("{front_door_batch}", str(varied["person"].batch_id))
    response = client_for(viewer).get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert result_ids(response) == [varied[name].pk for name in expected]


def test_the_event_filter_lists_the_detections_of_that_event(client_for, viewer, varied):
    event_id = varied["car"].event_id
    assert result_ids(client_for(viewer).get(f"{LIST}?event={event_id}")) == [varied["car"].pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_confidence=1.5", "min_confidence"),
        ("min_confidence=high", "min_confidence"),
        ("detected_after=yesterday", "detected_after"),
        ("detected_before=2026-13-01", "detected_before"),
        ("event=abc", "event"),
    ],
)
def test_a_malformed_detection_filter_answers_400_naming_it(client_for, viewer, varied, query, field):
    response = client_for(viewer).get(f"{LIST}?{query}")
    assert (response.status_code, list(response.json())) == (400, [field])


def test_cursor_pages_neither_repeat_nor_skip_when_newer_detections_arrive(
    client_for, viewer, make_detection
):
    assert_pages_stable(client_for(viewer), LIST, make_detection)


# Posting


def test_only_holders_of_the_add_permission_may_post_detections(statuses, cameras):
    assert statuses("post", LIST, row()) == answers(403, owner=201, pipeline=201)
    assert Detection.objects.count() == 2


def test_a_posted_detection_answers_201_with_what_was_stored(client_for, pipeline, cameras):
    response = client_for(pipeline).post(LIST, row(), format="json")

    assert response.status_code == 201
    stored = Detection.objects.get()
    assert response.json() == {
        "id": stored.pk,
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.87,
        "bbox": {"x": 10, "y": 20, "width": 30, "height": 40},
        "detected_at": "2026-11-23T09:15:00Z",
        "snapshot_url": None,
        "batch_id": stored.batch_id,
        "event_id": None,
        "created_at": stored.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert (stored.bbox_x, stored.bbox_height, stored.detected_at) == (
        10,
        40,
        T0 + timedelta(minutes=15) - timedelta(hours=1),
    )


def test_a_detection_without_a_box_is_stored_without_one(client_for, pipeline, cameras):
    payload = row()
    del payload["bbox"]
    response = client_for(pipeline).post(LIST, payload, format="json")
    assert (response.status_code, response.json()["bbox"]) == (201, None)
    assert Detection.objects.get().bbox is None


def test_a_pipeline_may_post_for_a_camera_no_one_granted_it(client_for, pipeline, cameras):
    response = client_for(pipeline).post(LIST, row(camera_id="backyard"), format="json")
    assert response.status_code == 201
    assert list(Detection.objects.values_list("camera_id", flat=True)) == ["backyard"]


def test_posting_a_detection_brings_its_camera_online(client_for, pipeline, cameras):
    client_for(pipeline).post(LIST, row(camera_id="garage"), format="json")
    assert Camera.objects.get(pk="garage").status == "online"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"camera_id": "attic"}, "camera_id"),
        ({"camera_id": None}, "camera_id"),
        ({"camera_id": ""}, "camera_id"),
        ({"object_type": ""}, "object_type"),
        ({"object_type": "x" * 41}, "object_type"),
        ({"confidence": "high"}, "confidence"),
        ({"confidence": 1.01}, "confidence"),
        ({"confidence": -0.01}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"detected_at": "yesterday"}, "detected_at"),
        ({"detected_at": 1700000000}, "detected_at"),
        ({"bbox": {"x": 1}}, "bbox"),
        ({"bbox": {"x": -1, "y": 0, "width": 1, "height": 1}}, "bbox"),
        ({"bbox": {"x": 0, "y": 0, "width": 0, "height": 1}}, "bbox"),
        ({"bbox": [1, 2, 3, 4]}, "bbox"),
        ({"snapshot": "not-a-file"}, "snapshot"),
    ],
)
def test_a_bad_detection_answers_400_naming_the_field_and_stores_nothing(
    client_for, pipeline, cameras, change, field
):
    response = client_for(pipeline).post(LIST, row(**change), format="json")
    assert_refused(response, field, Detection)


@pytest.mark.parametrize("missing", ["camera_id", "object_type", "confidence", "detected_at"])
def test_a_detection_missing_a_required_field_answers_400_naming_it(client_for, pipeline, cameras, missing):
    payload = row()
    del payload[missing]
    response = client_for(pipeline).post(LIST, payload, format="json")
    assert response.json() == {missing: ["This field is required."]}
    assert Detection.objects.count() == 0


def test_a_disabled_camera_takes_no_detections(client_for, pipeline, cameras):
    Camera.objects.filter(pk="garage").update(enabled=False)
    response = client_for(pipeline).post(LIST, row(camera_id="garage"), format="json")
    assert (response.status_code, response.json()) == (400, {"camera_id": ["Camera 'garage' is disabled."]})
    assert Detection.objects.count() == 0


@pytest.mark.parametrize("body", ["a string", 42, True])
def test_a_body_that_is_neither_an_object_nor_a_list_answers_400(client_for, pipeline, cameras, body):
    response = client_for(pipeline).post(LIST, body, format="json")
    assert_refused(response, "non_field_errors", Detection)


# Bulk


def test_a_list_of_detections_is_stored_and_answered_in_order(client_for, pipeline, cameras):
    rows = [
        row(object_type=kind, camera_id=camera)
        for kind, camera in [("person", "front_door"), ("car", "garage"), ("dog", "backyard")]
    ]
    response = client_for(pipeline).post(LIST, rows, format="json")

    assert response.status_code == 201
    assert [(item["object_type"], item["camera_id"]) for item in response.json()] == [
        ("person", "front_door"),
        ("car", "garage"),
        ("dog", "backyard"),
    ]
    assert sorted(Detection.objects.values_list("pk", flat=True)) == sorted(
        item["id"] for item in response.json()
    )


def test_a_bad_row_in_the_middle_of_a_list_stores_nothing_and_names_the_row(
    client_for, pipeline, cameras, make_detection
):
    make_detection()
    rows = [row(), row(), row(confidence=7), row(camera_id="attic"), row()]

    response = client_for(pipeline).post(LIST, rows, format="json")

    # Errors are keyed by the index of the row (DRF's dict format for list errors).
    assert response.status_code == 400
    assert response.json() == {
        "2": {"confidence": ["Ensure this value is less than or equal to 1.0."]},
        "3": {"camera_id": ["Unknown camera 'attic'."]},
    }
    assert Detection.objects.count() == 1


@override_settings(DETECTION_BULK_MAX=5)
def test_a_list_at_the_bulk_limit_is_accepted(client_for, pipeline, cameras):
    response = client_for(pipeline).post(LIST, [row()] * 5, format="json")
    assert (response.status_code, len(response.json())) == (201, 5)
    assert Detection.objects.count() == 5


def test_a_list_over_the_bulk_limit_answers_400_and_stores_nothing(client_for, pipeline, cameras, settings):
    response = client_for(pipeline).post(LIST, [row()] * (settings.DETECTION_BULK_MAX + 1), format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Ensure this field has no more than 1000 elements."]}
    assert Detection.objects.count() == 0


def test_a_thousand_detections_are_stored_in_one_post(client_for, pipeline, cameras):
    response = client_for(pipeline).post(LIST, [row()] * 1000, format="json")
    assert response.status_code == 201
    assert Detection.objects.count() == 1000


def test_an_empty_list_answers_400(client_for, pipeline, cameras):
    response = client_for(pipeline).post(LIST, [], format="json")
    assert (response.status_code, list(response.json())) == (400, ["non_field_errors"])


# Snapshots


@pytest.fixture
def uploaded(client_for, pipeline, cameras, media_root):
    """Post a detection with a snapshot as multipart; answer (response JSON, Detection)."""

    def upload(camera_id: str = "front_door", **extra) -> tuple[dict, Detection]:
        payload = {
            "camera_id": camera_id,
            "object_type": "person",
            "confidence": "0.9",
            "detected_at": "2026-11-23T10:00:00Z",
            "snapshot": png_upload(),
            **extra,
        }
        response = client_for(pipeline).post(LIST, payload, format="multipart")
        assert response.status_code == 201, response.json()
        return response.json(), Detection.objects.get(pk=response.json()["id"])

    return upload


def test_a_snapshot_uploaded_with_a_detection_is_stored_under_the_media_root(uploaded, media_root):
    body, detection = uploaded()
    assert body["snapshot_url"] == f"http://testserver/api/detections/{detection.pk}/snapshot/"
    stored = media_root / detection.snapshot.name
    assert stored.read_bytes() == png_bytes()
    assert detection.snapshot.name.startswith("snapshots/")


def test_a_multipart_detection_takes_its_box_as_json(uploaded):
    body, detection = uploaded(bbox='{"x": 5, "y": 6, "width": 7, "height": 8}')
    assert body["bbox"] == {"x": 5, "y": 6, "width": 7, "height": 8}
    assert detection.bbox == {"x": 5, "y": 6, "width": 7, "height": 8}


def test_a_multipart_detection_takes_its_box_as_dotted_fields(uploaded):
    _, detection = uploaded(**{"bbox.x": "1", "bbox.y": "2", "bbox.width": "3", "bbox.height": "4"})
    assert detection.bbox == {"x": 1, "y": 2, "width": 3, "height": 4}


def test_the_snapshot_is_served_only_to_users_who_may_see_the_camera(statuses, uploaded):
    _, detection = uploaded("garage")
    assert statuses("get", snapshot(detection.pk)) == answers(404, viewer=200, owner=200)


def test_a_hidden_cameras_snapshot_answers_404_to_the_viewer(client_for, viewer, owner, uploaded):
    _, detection = uploaded("backyard")
    assert client_for(viewer).get(snapshot(detection.pk)).status_code == 404
    assert client_for(owner).get(snapshot(detection.pk)).status_code == 200


def test_the_snapshot_endpoint_streams_the_image_bytes(client_for, viewer, uploaded):
    _, detection = uploaded()
    response = client_for(viewer).get(snapshot(detection.pk))
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert b"".join(response.streaming_content) == png_bytes()


def test_a_detection_without_a_snapshot_has_none_to_serve(client_for, viewer, make_detection):
    detection = make_detection()
    assert client_for(viewer).get(snapshot(detection.pk)).status_code == 404


@pytest.mark.parametrize(
    "upload",
    [
        lambda: png_upload().__class__("notes.txt", b"not an image", content_type="image/png"),
        lambda: "plain text",
    ],
    ids=["not-an-image", "not-a-file"],
)
def test_an_upload_that_is_not_an_image_answers_400_and_stores_nothing(
    client_for, pipeline, cameras, media_root, upload
):
    payload = {**row(), "bbox": "", "snapshot": upload()}
    response = client_for(pipeline).post(LIST, payload, format="multipart")
    assert_refused(response, "snapshot", Detection)


# The real limit, not one patched down for the test.
SNAPSHOT_MAX_BYTES = django_settings.DETECTION_SNAPSHOT_MAX_BYTES


def png_of_size(size: int) -> SimpleUploadedFile:
    """A real 4×4 PNG of exactly `size` bytes: a private ancillary chunk, which readers skip, pads it."""

    def build(padding: int) -> bytes:
        info = PngImagePlugin.PngInfo()
        info.add(b"prVt", b"\0" * padding)
        buffer = io.BytesIO()
        Image.new("RGB", (4, 4), "red").save(buffer, format="PNG", pnginfo=info)
        return buffer.getvalue()

    data = build(size - len(build(0)))
    assert len(data) == size
    return SimpleUploadedFile("frame.png", data, content_type="image/png")


def test_a_snapshot_of_exactly_the_limit_is_stored(client_for, pipeline, cameras, media_root):
    payload = {**row(), "bbox": "", "snapshot": png_of_size(SNAPSHOT_MAX_BYTES)}
    response = client_for(pipeline).post(LIST, payload, format="multipart")
    assert response.status_code == 201, response.json()
    assert Detection.objects.get().snapshot.size == SNAPSHOT_MAX_BYTES


def test_a_snapshot_one_byte_over_the_limit_answers_400(client_for, pipeline, cameras, media_root):
    payload = {**row(), "bbox": "", "snapshot": png_of_size(SNAPSHOT_MAX_BYTES + 1)}
    response = client_for(pipeline).post(LIST, payload, format="multipart")
    assert response.json() == {"snapshot": [f"A snapshot may be at most {SNAPSHOT_MAX_BYTES} bytes."]}
    assert Detection.objects.count() == 0
