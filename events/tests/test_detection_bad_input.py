"""Bad detections: 400 with a field error, and nothing stored, batched or broadcast."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from events.models import Detection, DetectionBatch
from events.tests.conftest import T0, png_upload
from realtime.models import OutboxMessage

LIST = "/api/detections/"


@pytest.fixture(autouse=True)
def clock(settings):
    settings.DETECTION_CLOCK_SKEW_SECONDS = 600
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def row(**changes) -> dict:
    return {
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.9,
        "detected_at": T0.isoformat(),
        **changes,
    }


def assert_nothing_happened() -> None:
    assert (Detection.objects.count(), DetectionBatch.objects.count(), OutboxMessage.objects.count()) == (
        0,
        0,
        0,
    )


@pytest.fixture
def post(client_for, pipeline, cameras, media_root):
    client = client_for(pipeline)
    OutboxMessage.objects.all().delete()  # the fixtures' own camera messages

    def send(payload, **options):
        return client.post(LIST, payload, format=options.get("format", "json"))

    return send


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"camera_id": "nowhere"}, "Unknown camera 'nowhere'."),
        (
            {"detected_at": (T0 + timedelta(seconds=601)).isoformat()},
            "This time is in the future: check the camera's clock.",
        ),
        (
            {"detected_at": (T0 - timedelta(seconds=601)).isoformat()},
            "This time is more than 600 s in the past.",
        ),
    ],
    ids=["unknown camera", "future", "past"],
)
def test_a_bad_detection_answers_400_with_the_field_and_stores_and_sends_nothing(post, changes, message):
    response = post(row(**changes))
    assert response.status_code == 400
    assert response.json() == {next(iter(changes)): [message]}
    assert_nothing_happened()


def test_times_just_within_the_skew_are_accepted(post):
    for seconds in (-600, 600):
        assert post(row(detected_at=(T0 + timedelta(seconds=seconds)).isoformat())).status_code == 201


def test_a_detection_for_a_disabled_camera_is_refused(post, cameras):
    cameras["garage"].enabled = False
    cameras["garage"].save()
    OutboxMessage.objects.all().delete()
    response = post(row(camera_id="garage"))
    assert response.json() == {"camera_id": ["Camera 'garage' is disabled."]}
    assert_nothing_happened()


def test_one_bad_row_in_a_bulk_post_refuses_the_whole_list(post):
    response = post([row(), row(detected_at=(T0 + timedelta(hours=1)).isoformat()), row()])
    assert response.status_code == 400
    assert response.json()["1"] == {"detected_at": ["This time is in the future: check the camera's clock."]}
    assert_nothing_happened()


def test_a_snapshot_that_is_not_an_image_is_refused(post):
    fake = SimpleUploadedFile("frame.png", b"GIF89a but not really", content_type="image/png")
    response = post({**row(), "snapshot": fake}, format="multipart")
    assert list(response.json()) == ["snapshot"]
    assert_nothing_happened()


def test_a_snapshot_over_the_size_limit_is_refused(post, settings):
    settings.DETECTION_SNAPSHOT_MAX_BYTES = 50
    response = post({**row(), "snapshot": png_upload()}, format="multipart")
    assert response.json() == {"snapshot": ["A snapshot may be at most 50 bytes."]}
    assert_nothing_happened()
