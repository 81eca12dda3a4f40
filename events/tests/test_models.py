"""Model rules that hold whatever path the data takes: risk levels, ranges, bounding boxes."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from events.models import Detection, Event
from events.risk import RiskLevel, risk_level_for
from events.tests.conftest import T0

# Detections must be recent (DETECTION_CLOCK_SKEW_SECONDS): these tests build them at T0.
pytestmark = pytest.mark.usefixtures("clock_at_t0")

BOUNDARIES = [
    (0, RiskLevel.LOW),
    (29, RiskLevel.LOW),
    (30, RiskLevel.MEDIUM),
    (59, RiskLevel.MEDIUM),
    (60, RiskLevel.HIGH),
    (84, RiskLevel.HIGH),
    (85, RiskLevel.CRITICAL),
    (100, RiskLevel.CRITICAL),
]


@pytest.mark.parametrize(("score", "level"), BOUNDARIES)
def test_risk_level_for_maps_each_boundary_score(score, level):
    assert risk_level_for(score) == level


@pytest.mark.parametrize(("score", "level"), BOUNDARIES)
def test_saving_an_event_derives_its_risk_level(make_event, score, level):
    event = make_event(risk_score=score)
    event.refresh_from_db()
    assert event.risk_level == level


def test_risk_level_for_refuses_a_negative_score():
    with pytest.raises(ValueError, match="out of range"):
        risk_level_for(-1)


def test_changing_the_score_with_update_fields_moves_the_level_too(make_event):
    event = make_event(risk_score=10)
    event.risk_score = 90
    event.save(update_fields=["risk_score"])
    event.refresh_from_db()
    assert (event.risk_score, event.risk_level) == (90, RiskLevel.CRITICAL)


@pytest.mark.parametrize("score", [-1, 101, 1000])
def test_full_clean_rejects_an_out_of_range_score(cameras, score):
    event = Event(camera=cameras["front_door"], started_at=T0, risk_score=score, summary="x")
    with pytest.raises(ValidationError) as caught:
        event.full_clean()
    assert list(caught.value.message_dict) == ["risk_score"]


@pytest.mark.parametrize("score", [-1, 101])
def test_the_database_rejects_an_out_of_range_score(cameras, score):
    with pytest.raises(IntegrityError), transaction.atomic():
        # save() cannot derive a level for -1, so write the row the way a bulk import would.
        Event.objects.bulk_create(
            [Event(camera=cameras["front_door"], started_at=T0, risk_score=score, risk_level="critical")]
        )
    assert Event.objects.count() == 0


def test_the_database_rejects_a_level_that_does_not_match_the_score(make_event):
    event = make_event(risk_score=90)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(risk_level=RiskLevel.LOW)
    event.refresh_from_db()
    assert event.risk_level == RiskLevel.CRITICAL


def test_the_database_rejects_a_score_updated_without_its_level(make_event):
    event = make_event(risk_score=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(risk_score=95)
    event.refresh_from_db()
    assert (event.risk_score, event.risk_level) == (10, RiskLevel.LOW)


def test_an_event_cannot_end_before_it_starts(cameras):
    event = Event(
        camera=cameras["front_door"],
        started_at=T0,
        ended_at=T0 - timedelta(seconds=1),
        risk_score=5,
        summary="x",
    )
    with pytest.raises(ValidationError) as caught:
        event.full_clean()
    assert list(caught.value.message_dict) == ["ended_at"]


def _detection(cameras, **fields) -> Detection:
    fields.setdefault("confidence", 0.5)
    return Detection(camera=cameras["front_door"], object_type="person", detected_at=T0, **fields)


@pytest.mark.parametrize("confidence", [0.0, 0.5, 1.0])
def test_full_clean_accepts_a_confidence_between_0_and_1(cameras, confidence):
    _detection(cameras, confidence=confidence).full_clean()


@pytest.mark.parametrize("confidence", [-0.01, 1.01, 5])
def test_full_clean_rejects_a_confidence_outside_0_to_1(cameras, confidence):
    with pytest.raises(ValidationError) as caught:
        _detection(cameras, confidence=confidence).full_clean()
    assert list(caught.value.message_dict) == ["confidence"]


@pytest.mark.parametrize("confidence", [-0.5, 1.5])
def test_the_database_rejects_a_confidence_outside_0_to_1(cameras, confidence):
    with pytest.raises(IntegrityError), transaction.atomic():
        _detection(cameras, confidence=confidence).save()
    assert Detection.objects.count() == 0


def test_a_detection_with_a_whole_box_exposes_it_as_a_dict(cameras):
    detection = _detection(cameras, bbox_x=1, bbox_y=2, bbox_width=30, bbox_height=40)
    detection.full_clean()
    assert detection.bbox == {"x": 1, "y": 2, "width": 30, "height": 40}


def test_a_detection_without_a_box_has_bbox_none(cameras):
    detection = _detection(cameras)
    detection.full_clean()
    assert detection.bbox is None


@pytest.mark.parametrize(
    "box",
    [
        {"bbox_x": 1},
        {"bbox_x": 1, "bbox_y": 2, "bbox_width": 3},
        {"bbox_x": 1, "bbox_y": 2, "bbox_width": 0, "bbox_height": 4},
        {"bbox_x": 1, "bbox_y": 2, "bbox_width": 4, "bbox_height": 0},
    ],
    ids=["only-x", "no-height", "zero-width", "zero-height"],
)
def test_full_clean_rejects_a_partial_or_empty_box(cameras, box):
    with pytest.raises(ValidationError, match="bounding box"):
        _detection(cameras, **box).full_clean()


def test_full_clean_rejects_a_negative_box_corner(cameras):
    with pytest.raises(ValidationError) as caught:
        _detection(cameras, bbox_x=-1, bbox_y=0, bbox_width=1, bbox_height=1).full_clean()
    assert "bbox_x" in caught.value.message_dict
