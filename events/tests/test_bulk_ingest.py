"""Bulk detection posts: every row checked by the same rules, a bad row refuses the whole list
(named by its index and field, nothing stored, numbered or sent), a good list stored, numbered
and sent in one layer message, and answered as DRF's serializer answers."""

from datetime import timedelta

import orjson
import pytest
from asgiref.sync import async_to_sync
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from cameras.models import Camera
from events.api.detections import DetectionSerializer, DetectionWriteSerializer
from events.models import Detection, DetectionBatch
from events.tests.conftest import T0, png_upload
from project.testing.layer_probe import receive_all
from realtime.models import OutboxMessage

LIST = "/api/detections/"

pytestmark = pytest.mark.usefixtures("clock_at_t0")


def row(**changes) -> dict:
    """A valid detection as a pipeline posts it."""
    return {
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.87,
        "detected_at": T0.isoformat(),
        "bbox": {"x": 10, "y": 20, "width": 30, "height": 40},
        **changes,
    }


def box(**changes) -> dict:
    return {"x": 10, "y": 20, "width": 30, "height": 40, **changes}


@pytest.fixture
def post(client_for, pipeline, cameras, media_root, detections_listener, django_capture_on_commit_callbacks):
    """POST a body as the pipeline, running what waits for the commit; answer (response, layer messages)."""
    client = client_for(pipeline)
    Camera.objects.filter(pk="garage").update(enabled=False)
    OutboxMessage.objects.all().delete()  # the fixtures' own camera messages
    layer, channel = detections_listener

    def send(body):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(LIST, body, format="json")
        return response, async_to_sync(receive_all)(layer, channel)

    return send


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("camera_id", "attic", "Unknown camera 'attic'."),
        ("camera_id", "garage", "Camera 'garage' is disabled."),
        ("camera_id", 5, "Unknown camera '5'."),
        ("camera_id", "", "This field may not be blank."),
        ("camera_id", "   ", "This field may not be blank."),
        ("camera_id", None, "This field may not be null."),
        ("camera_id", "x" * 65, "Ensure this field has no more than 64 characters."),
        ("camera_id", "front\x00door", "Null characters are not allowed."),
        ("camera_id", ["front_door"], "Not a valid string."),
        ("object_type", "", "This field may not be blank."),
        ("object_type", "x" * 41, "Ensure this field has no more than 40 characters."),
        ("object_type", {"kind": "person"}, "Not a valid string."),
        ("confidence", 1.01, "Ensure this value is less than or equal to 1.0."),
        ("confidence", -0.01, "Ensure this value is greater than or equal to 0.0."),
        ("confidence", 2, "Ensure this value is less than or equal to 1.0."),
        ("confidence", True, "A valid number is required."),
        ("confidence", "high", "A valid number is required."),
        ("confidence", None, "This field may not be null."),
        ("detected_at", "yesterday", None),
        ("detected_at", 1700000000, None),
        (
            "detected_at",
            (T0 + timedelta(hours=3)).isoformat(),
            "This time is in the future: check the camera's clock.",
        ),
        ("detected_at", (T0 - timedelta(hours=3)).isoformat(), "This time is more than 7200 s in the past."),
        ("detected_at", "9999-12-31T23:00:00-05:00", "Out of range: must be within years 1–9999 in UTC."),
        ("bbox", [10, 20, 30, 40], None),
        ("bbox", {"x": 10}, None),
        ("bbox", box(x=-1), None),
        ("bbox", box(width=0), None),
        ("bbox", box(height=1.5), None),
        ("bbox", box(y=True), None),
        ("bbox", box(x=2**63), None),
        ("batch_id", "x" * 65, "Ensure this field has no more than 64 characters."),
        ("batch_id", None, "This field may not be null."),
        ("snapshot", "not-a-file", None),
    ],
)
def test_a_bad_value_in_one_row_refuses_the_list_naming_row_and_field_and_stores_and_sends_nothing(
    post, field, bad, message
):
    response, frames = post([row(), row(), row(**{field: bad}), row()])

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["2"]
    assert list(errors["2"]) == [field]
    if message is not None:
        assert errors["2"][field] == [message]
    assert (Detection.objects.count(), DetectionBatch.objects.count(), OutboxMessage.objects.count()) == (
        0,
        0,
        0,
    )
    assert frames == []


@pytest.mark.parametrize("bad", ["a detection", 7, None, [row()]], ids=["text", "number", "null", "list"])
def test_a_row_that_is_not_an_object_refuses_the_list_naming_the_row(post, bad):
    response, frames = post([row(), bad])

    assert (response.status_code, list(response.json())) == (400, ["1"])
    assert (Detection.objects.count(), OutboxMessage.objects.count(), frames) == (0, 0, [])


@pytest.mark.parametrize("missing", ["camera_id", "object_type", "confidence", "detected_at"])
def test_a_row_missing_a_required_field_refuses_the_list_naming_it(post, missing):
    incomplete = row()
    del incomplete[missing]

    response, frames = post([row(), incomplete])

    assert response.json() == {"1": {missing: ["This field is required."]}}
    assert (Detection.objects.count(), OutboxMessage.objects.count(), frames) == (0, 0, [])


def test_every_bad_row_of_a_list_is_named(post):
    response, frames = post([row(confidence=7), row(), row(camera_id="attic", bbox=box(width=0))])

    assert response.json() == {
        "0": {"confidence": ["Ensure this value is less than or equal to 1.0."]},
        "2": {
            "camera_id": ["Unknown camera 'attic'."],
            "bbox": {"width": ["Ensure this value is greater than or equal to 1."]},
        },
    }
    assert (Detection.objects.count(), OutboxMessage.objects.count(), frames) == (0, 0, [])


@pytest.mark.parametrize(
    ("changes", "stored"),
    [
        ({"object_type": " person "}, {"object_type": "person"}),
        ({"object_type": 7}, {"object_type": "7"}),
        ({"camera_id": " front_door "}, {"camera_id": "front_door"}),
        ({"confidence": "0.5"}, {"confidence": 0.5}),
        ({"confidence": 1}, {"confidence": 1.0}),
        ({"bbox": box(x="11", width=31.0)}, {"bbox_x": 11, "bbox_width": 31}),
        ({"bbox": None}, {"bbox_x": None, "bbox_width": None}),
        ({"detected_at": "2026-11-23T11:00:00+01:00"}, {"detected_at": T0}),
        ({"batch_id": ""}, {"batch__source_batch_id": ""}),
        ({"batch_id": " cam-run-7 "}, {"batch__source_batch_id": "cam-run-7"}),
        ({"snapshot": None, "unknown_key": 1}, {"snapshot": ""}),
    ],
)
def test_values_drf_accepts_are_stored_as_drf_reads_them_in_a_list(post, changes, stored):
    response, _ = post([row(), row(**changes)])

    assert response.status_code == 201
    detection = Detection.objects.filter(pk=response.json()[1]["id"])
    assert detection.values(*stored).get() == stored


def test_a_good_list_is_stored_numbered_and_sent_in_one_layer_message_in_order(post):
    rows = [
        row(camera_id=camera, object_type=kind, confidence=n / 10, bbox=box(x=n))
        for n, (camera, kind) in enumerate(
            [("front_door", "person"), ("backyard", "dog"), ("front_door", "car")]
        )
    ]

    response, frames = post(rows)

    assert response.status_code == 201
    answered = response.json()
    assert [(d["camera_id"], d["object_type"], d["confidence"], d["bbox"]["x"]) for d in answered] == [
        ("front_door", "person", 0.0, 0),
        ("backyard", "dog", 0.1, 1),
        ("front_door", "car", 0.2, 2),
    ]
    ids = [d["id"] for d in answered]
    assert sorted(Detection.objects.values_list("id", flat=True)) == ids
    outbox = list(
        OutboxMessage.objects.filter(event_type="detection.new")
        .order_by("id")
        .values_list("id", "payload__id")
    )
    assert [detection for _, detection in outbox] == ids
    [message] = frames
    sent = [
        (item["meta"]["sequence"], orjson.loads(item["text"])["payload"]["id"]) for item in message["bundle"]
    ]
    assert sent == outbox


def test_a_thousand_rows_are_stored_in_order_with_their_own_values(post):
    rows = [row(confidence=n / 1000, bbox=box(x=n)) for n in range(1000)]

    response, frames = post(rows)

    assert response.status_code == 201
    ids = [d["id"] for d in response.json()]
    assert ids == sorted(ids)
    assert list(Detection.objects.order_by("id").values_list("id", "confidence", "bbox_x")) == [
        (pk, n / 1000, n) for n, pk in enumerate(ids)
    ]
    assert (
        len(frames[0]["bundle"]) == OutboxMessage.objects.filter(event_type="detection.new").count() == 1000
    )


def test_the_fast_rows_are_what_drfs_list_serializer_validates(pipeline, cameras):
    rows = [
        row(),
        row(camera_id="backyard", object_type="car", confidence=1, bbox=None, batch_id="run-1"),
        row(detected_at="2026-11-23T11:15:00+01:00", bbox=box(x=0, y=0, width=1, height=1), batch_id=""),
        row(snapshot=None, extra="ignored"),
    ]
    request = APIRequestFactory().post(LIST)
    request.user = pipeline
    context = {"request": request}

    fast = DetectionWriteSerializer(data=rows, many=True, context=context)
    drf = serializers.ListSerializer(child=DetectionWriteSerializer(), data=rows, context=context)

    assert fast.is_valid() and drf.is_valid()
    assert fast.validated_data == drf.validated_data


def test_a_detection_answers_what_drfs_field_walk_answers(
    client_for, owner, cameras, make_detection, make_event, media_root, settings
):
    settings.TIME_ZONE = "Europe/Paris"
    event = make_event()
    boxed = make_detection(
        bbox_x=1, bbox_y=2, bbox_width=3, bbox_height=4, snapshot=png_upload(), event=event
    )
    plain = make_detection("garage", minutes=5)
    request = APIRequestFactory().get(LIST)
    serializer = DetectionSerializer(context={"request": request})

    for detection in (boxed, plain):
        walked = serializers.ModelSerializer.to_representation(serializer, detection)
        assert serializer.to_representation(detection) == walked
