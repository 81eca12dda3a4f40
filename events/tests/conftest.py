"""Factories for detections, events and snapshots; the standing-user helpers of cameras/tests."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cameras.tests.conftest import statuses, users  # noqa: F401  (shared fixtures)
from events.models import Detection, Event

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# What each signed-in standing user finds in a time-ordered list of one row per camera.
SEEN_NEWEST_FIRST = {
    "viewer": ["garage", "front_door"],
    "stranger": [],
    "owner": ["backyard", "garage", "front_door"],
    "pipeline": [],
}


def one_per_camera(make) -> dict:
    """One row per camera through the factory `make`: front_door oldest, backyard newest."""
    return {
        slug: make(slug, minutes=index) for index, slug in enumerate(["front_door", "garage", "backyard"])
    }


def cameras_seen(client_for, standing_users: dict, url: str) -> dict[str, list[str]]:
    """The camera_id of each row on the first page of `url`, for every signed-in standing user."""
    return {
        name: [item["camera_id"] for item in client_for(user).get(url).json()["results"]]
        for name, user in standing_users.items()
        if user is not None
    }


def result_ids(response) -> list[int]:
    """The ids on one page of a paginated answer."""
    return [item["id"] for item in response.json()["results"]]


def assert_pages_stable(client, url: str, make) -> None:
    """Page through `url` two rows at a time while newer rows arrive: no row twice, none lost."""
    older = [make("garage", minutes=minute) for minute in range(5)]
    first = client.get(f"{url}?page_size=2").json()
    for minute in range(10, 13):
        make("front_door", minutes=minute)
    seen, next_url = [item["id"] for item in first["results"]], first["next"]
    while next_url:
        page = client.get(next_url).json()
        seen += [item["id"] for item in page["results"]]
        next_url = page["next"]
    assert seen == [row.pk for row in reversed(older)]


def assert_refused(response, field: str, model) -> None:
    """A 400 whose errors name exactly `field`, and no row of `model` stored."""
    assert (response.status_code, list(response.json())) == (400, [field])
    assert model.objects.count() == 0


def png_bytes(color: str = "red") -> bytes:
    """A real 4×4 PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_upload(name: str = "frame.png", color: str = "red") -> SimpleUploadedFile:
    """A PNG as an uploaded file."""
    return SimpleUploadedFile(name, png_bytes(color), content_type="image/png")


@pytest.fixture
def clock_at_t0(settings):
    """The clock stands at T0 (ticking) and detections may be two hours off, so the fixed times
    of the tests (around T0) are plausible."""
    settings.DETECTION_CLOCK_SKEW_SECONDS = 2 * 3600
    with time_machine.travel(T0) as traveller:
        yield traveller


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded snapshots go to a throwaway directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def make_detection(cameras):
    """Store a detection directly (test setup, not the API under test)."""

    def make(camera: str = "front_door", *, minutes: float = 0, **fields) -> Detection:
        fields.setdefault("object_type", "person")
        fields.setdefault("confidence", 0.9)
        return Detection.objects.create(
            camera=cameras[camera], detected_at=T0 + timedelta(minutes=minutes), **fields
        )

    return make


@pytest.fixture
def make_event(cameras):
    """Store an event directly (test setup, not the API under test)."""

    def make(camera: str = "front_door", *, risk_score: int = 50, minutes: float = 0, **fields) -> Event:
        fields.setdefault("summary", f"Something at {camera}")
        return Event.objects.create(
            camera=cameras[camera],
            risk_score=risk_score,
            started_at=T0 + timedelta(minutes=minutes),
            **fields,
        )

    return make
