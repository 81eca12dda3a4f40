"""Detections join batches; batches close by window or idle time, exactly once, and become events."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from events.analyzers import HeuristicAnalyzer
from events.models import Alert, BatchState, Detection, DetectionBatch, Event
from events.pipeline import batches_close_due
from events.services import detection_ingest
from events.tests.conftest import T0
from events.tests.factories import make_rule
from realtime.models import OutboxMessage


@pytest.fixture(autouse=True)
def clock(settings):
    """A clock that stands still at T0 unless a test moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def ingest(camera, count: int = 1, *, object_type: str = "person", **row) -> list[Detection]:
    """Post `count` detections of `camera` through the service, at the current (travelled) time."""
    return detection_ingest(
        rows=[
            {
                "camera": camera,
                "object_type": object_type,
                "confidence": 0.9,
                "detected_at": timezone.now(),
                **row,
            }
            for _ in range(count)
        ]
    )


def types_in_outbox() -> list[str]:
    """The durable messages of detections, events and alerts, in sequence order."""
    rows = OutboxMessage.objects.filter(channel__in=["detections", "events", "alerts"]).order_by("id")
    return list(rows.values_list("event_type", flat=True))


class FailingAnalyzer:
    """An analyzer whose backend is down."""

    def analyze(self, batch):
        raise ConnectionError("analyzer backend unreachable")


@pytest.fixture
def batching(settings):
    settings.BATCH_IDLE_SECONDS = 30
    settings.BATCH_WINDOW_SECONDS = 90
    return settings


def test_detections_of_one_camera_share_its_open_batch_and_other_cameras_get_their_own(cameras, batching):
    first = ingest(cameras["front_door"], 2)
    later = ingest(cameras["front_door"])
    garage = ingest(cameras["garage"])
    assert {d.batch_id for d in first + later} == {first[0].batch_id}
    assert garage[0].batch_id != first[0].batch_id
    batch = DetectionBatch.objects.get(pk=first[0].batch_id)
    assert (batch.camera_id, batch.state, batch.detections.count()) == ("front_door", BatchState.OPEN, 3)


def test_a_pipelines_own_batch_label_makes_a_batch_of_its_own(cameras, batching):
    ours = ingest(cameras["front_door"])
    labelled = ingest(cameras["front_door"], 2, batch_id="run-7")
    assert ours[0].batch_id != labelled[0].batch_id == labelled[1].batch_id
    assert DetectionBatch.objects.get(pk=labelled[0].batch_id).source_batch_id == "run-7"


def test_a_batch_closes_after_the_idle_time_without_detections(cameras, batching):
    detection = ingest(cameras["front_door"])[0]
    assert batches_close_due(now=T0 + timedelta(seconds=29)) == []
    closed = batches_close_due(now=T0 + timedelta(seconds=30))
    assert [b.pk for b in closed] == [detection.batch_id]
    batch = DetectionBatch.objects.get(pk=detection.batch_id)
    assert batch.state == BatchState.CLOSED
    assert batch.event.detections.get() == detection


def test_a_busy_batch_closes_at_the_window_even_while_detections_keep_coming(cameras, batching, clock):
    first = ingest(cameras["front_door"])[0]
    for second in range(20, 120, 20):  # never idle for 30 s
        clock.move_to(T0 + timedelta(seconds=second))
        ingest(cameras["front_door"])
        assert batches_close_due(now=T0 + timedelta(seconds=second)) == ([] if second < 90 else [first.batch])
    batch = DetectionBatch.objects.get(pk=first.batch_id)
    assert (batch.state, batch.event.detection_count) == (BatchState.CLOSED, 6)


def test_a_detection_after_its_batch_closed_starts_a_new_batch(cameras, batching, clock):
    before = ingest(cameras["front_door"])[0]
    batches_close_due(now=T0 + timedelta(seconds=30))
    clock.move_to(T0 + timedelta(seconds=31))
    after = ingest(cameras["front_door"])[0]
    assert after.batch_id != before.batch_id
    assert DetectionBatch.objects.get(pk=after.batch_id).state == BatchState.OPEN


def test_closing_announces_the_batch_then_records_the_event_then_its_alert(cameras, batching):
    make_rule("Anyone", min_risk_score=0)
    detections = ingest(cameras["front_door"], 3)
    batches_close_due(now=T0 + timedelta(seconds=30))
    assert types_in_outbox() == ["detection.new"] * 3 + ["detection.batch", "event.created", "alert.created"]
    announced = OutboxMessage.objects.get(event_type="detection.batch").payload
    assert announced["detection_ids"] == [d.pk for d in detections]
    event = Event.objects.get()
    assert event.detection_count == 3
    assert event.batch_id == str(detections[0].batch_id)
    assert Alert.objects.get().event == event


def test_closing_twice_records_one_event(cameras, batching):
    ingest(cameras["front_door"], 2)
    batches_close_due(now=T0 + timedelta(seconds=30))
    assert batches_close_due(now=T0 + timedelta(seconds=300)) == []
    assert Event.objects.count() == 1
    assert types_in_outbox().count("detection.batch") == 1


def test_a_failing_analyzer_keeps_the_batch_retries_with_backoff_then_the_heuristic_scores_it(
    cameras, batching
):
    batching.EVENT_ANALYZER = "events.tests.test_batching.FailingAnalyzer"
    batching.BATCH_ANALYSIS_MAX_ATTEMPTS = 3
    batching.BATCH_RETRY_SECONDS = 10
    detections = ingest(cameras["front_door"], 4)
    batch_id = detections[0].batch_id

    closed_at = T0 + timedelta(seconds=30)
    batches_close_due(now=closed_at)
    batch = DetectionBatch.objects.get(pk=batch_id)
    assert (batch.state, batch.attempts, batch.next_attempt_at) == (
        "failed",
        1,
        closed_at + timedelta(seconds=10),
    )
    assert "analyzer backend unreachable" in batch.last_error
    # Not before its time; then again after 10 s, and after 20 s more.
    assert batches_close_due(now=closed_at + timedelta(seconds=9)) == []
    batches_close_due(now=closed_at + timedelta(seconds=10))
    batch.refresh_from_db()
    assert (batch.state, batch.attempts, batch.next_attempt_at) == (
        "failed",
        2,
        closed_at + timedelta(seconds=30),
    )
    assert Event.objects.count() == 0
    batches_close_due(now=closed_at + timedelta(seconds=30))

    batch.refresh_from_db()
    event = Event.objects.get()
    assert (batch.state, batch.attempts, batch.event) == ("closed", 3, event)
    assert "failed 3 times" in event.reasoning and "heuristic fallback used" in event.reasoning
    assert event.detection_count == 4
    assert set(Detection.objects.values_list("event_id", flat=True)) == {event.pk}
    assert types_in_outbox().count("detection.batch") == 1


class OutlivedClaimAnalyzer:
    """The first analysis outlives its claim: meanwhile another caller takes the batch up and finishes it."""

    calls = 0

    def analyze(self, batch):
        OutlivedClaimAnalyzer.calls += 1
        if OutlivedClaimAnalyzer.calls == 1:
            batches_close_due(now=T0 + timedelta(seconds=30 + 300 + 1))
        return HeuristicAnalyzer().analyze(batch)


def test_a_batch_whose_claim_lapsed_is_taken_up_again_and_still_yields_one_event(cameras, batching):
    batching.EVENT_ANALYZER = "events.tests.test_batching.OutlivedClaimAnalyzer"
    batching.BATCH_CLAIM_SECONDS = 300
    OutlivedClaimAnalyzer.calls = 0
    ingest(cameras["front_door"], 3)
    batches_close_due(now=T0 + timedelta(seconds=30))
    assert OutlivedClaimAnalyzer.calls == 2
    event = Event.objects.get()
    assert DetectionBatch.objects.get().event == event
    assert set(Detection.objects.values_list("event_id", flat=True)) == {event.pk}
    assert types_in_outbox().count("event.created") == 1
