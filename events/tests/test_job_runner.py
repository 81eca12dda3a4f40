"""Jobs run: exports hold what the API lists, re-analysis re-scores, progress is paced, jobs always end."""

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from events.analyzers import Analysis, HeuristicAnalyzer
from events.job_runner import INTERRUPTED, LAPSED, JobProgress, job_claim_next, job_run, jobs_fail_lapsed
from events.jobs import job_cancel
from events.models import Alert, Event, Job, JobStatus
from events.pipeline import batches_close_due
from events.services import detection_ingest
from events.tests.conftest import T0
from events.tests.factories import make_event, make_rule
from realtime.models import OutboxMessage

RANGE = {"started_after": "2026-11-23T09:00:00+00:00", "started_before": "2026-11-23T12:00:00+00:00"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def job_messages(job: Job, event_type: str) -> list[dict]:
    return [
        row.payload
        for row in OutboxMessage.objects.filter(event_type=event_type).order_by("id")
        if row.payload["job_id"] == str(job.pk)
    ]


def queue(client, job_type: str, **params) -> Job:
    response = client.post("/api/jobs/", {"job_type": job_type, "params": params}, format="json")
    assert response.status_code == 201, response.json()
    return Job.objects.get(pk=response.json()["id"])


def run_next(**options) -> Job:
    job = job_claim_next()
    assert job is not None
    return job_run(job=job, **options)


@pytest.fixture
def scored_events(cameras) -> list[Event]:
    """Events of every camera and several scores (backyard's are hidden from the viewer)."""
    return [
        make_event(cameras[slug], score)
        for slug in ("front_door", "garage", "backyard")
        for score in (20, 45, 80)
    ]


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_an_export_holds_exactly_the_events_the_api_lists_for_its_filters(
    client_for, viewer, scored_events, export_format
):
    client = client_for(viewer)
    job = queue(client, "export", min_risk_score=40, format=export_format)
    assert run_next().status == JobStatus.COMPLETED
    listed = client.get("/api/events/?min_risk_score=40&page_size=100").json()["results"]
    download = client.get(f"/api/jobs/{job.pk}/download/")
    body = b"".join(download.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body))) if export_format == "csv" else json.loads(body)
    assert sorted(int(row["id"]) for row in rows) == sorted(event["id"] for event in listed)
    assert len(rows) == 4
    completed = job_messages(job, "job.completed")
    assert completed[0]["result"]["count"] == 4
    assert completed[0]["result"]["size"] == len(body.encode())
    assert completed[0]["download_url"] == f"/api/jobs/{job.pk}/download/"


def test_an_export_gives_each_event_its_own_fields_in_a_fixed_order(client_for, owner, cameras):
    event = make_event(
        cameras["garage"], 80, started_at=T0, object_types=("car", "person"), summary="A car, a person"
    )
    client = client_for(owner)
    bodies = {}
    for export_format in ("csv", "json"):
        job = queue(client, "export", format=export_format)
        assert run_next().status == JobStatus.COMPLETED
        download = client.get(f"/api/jobs/{job.pk}/download/")
        bodies[export_format] = b"".join(download.streaming_content).decode()
    row = {
        "id": event.pk,
        "camera_id": "garage",
        "batch_id": "",
        "started_at": "2026-11-23T10:00:00+00:00",
        "ended_at": None,
        "risk_score": 80,
        "risk_level": "high",
        "summary": "A car, a person",
        "reasoning": "",
        "object_types": ["car", "person"],
        "detection_count": 0,
        "reviewed": False,
        "notes": "",
    }
    assert [list(item.items()) for item in json.loads(bodies["json"])] == [list(row.items())]
    header, line = bodies["csv"].splitlines()
    assert header == ",".join(row)
    assert line == (
        f'{event.pk},garage,,2026-11-23T10:00:00+00:00,,80,high,"A car, a person",,car person,0,False,'
    )


def test_an_exports_file_is_removed_with_its_job(
    client_for, viewer, scored_events, django_capture_on_commit_callbacks
):
    job = queue(client_for(viewer), "export")
    name = run_next().result["file"]
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        Job.objects.filter(pk=job.pk).delete()
    assert not default_storage.exists(name)


def test_progress_is_sent_on_each_whole_percent_when_the_work_is_slow(owner):
    job = Job.objects.create(job_type="export", status=JobStatus.RUNNING, created_by=owner)
    clock = [0.0]
    progress = JobProgress(job, clock=lambda: clock[0])
    for done in range(200):
        clock[0] += 0.5
        progress.update(done, 200)
    assert [m["progress"] for m in job_messages(job, "job.progress")] == list(range(1, 100))


def test_progress_is_sent_at_most_four_times_a_second_when_the_work_is_fast(owner):
    job = Job.objects.create(job_type="export", status=JobStatus.RUNNING, created_by=owner)
    clock = [0.0]
    progress = JobProgress(job, clock=lambda: clock[0])
    for done in range(1000):
        clock[0] += 0.001  # a whole percent every 10 ms: one second of work in all
        progress.update(done, 1000)
    sent = [m["progress"] for m in job_messages(job, "job.progress")]
    assert 1 <= len(sent) <= 4
    assert sent == sorted(set(sent))


class SlowAnalyzer(HeuristicAnalyzer):
    """The heuristic, 20 ms a batch; the test cancels the job at the third batch."""

    cancel_at = 3
    seen = 0

    def analyze(self, batch):
        SlowAnalyzer.seen += 1
        if SlowAnalyzer.seen == self.cancel_at:
            job_cancel(job=Job.objects.get(status=JobStatus.RUNNING))
        threading.Event().wait(0.02)
        return HeuristicAnalyzer.analyze(self, batch)


class BrokenAnalyzer:
    def analyze(self, batch) -> Analysis:
        raise RuntimeError("the model exploded")


@pytest.fixture
def analyzed_events(cameras, settings) -> list[Event]:
    """100 events the pipeline made from real batches (re-analysis needs their detections), each alerted."""
    make_rule("Anything", min_risk_score=0, cooldown_seconds=0)
    with time_machine.travel(T0, tick=False) as clock:
        for minute in range(100):
            clock.move_to(T0 + timedelta(minutes=minute))
            detection_ingest(
                rows=[
                    {
                        "camera": cameras["garage"],
                        "object_type": "car",
                        "confidence": 0.9,
                        "detected_at": timezone.now(),
                    }
                ]
            )
            batches_close_due(now=timezone.now() + timedelta(seconds=settings.BATCH_IDLE_SECONDS + 1))
    return list(Event.objects.all())


def test_reanalysis_rescores_events_and_broadcasts_event_updated_without_alerting_again(
    client_for, owner, analyzed_events, settings
):
    alerts = Alert.objects.count()
    assert alerts == 100
    settings.EVENT_CAMERA_WEIGHTS = {"garage": 30}
    job = queue(client_for(owner), "reanalyze", **RANGE)
    assert run_next().status == JobStatus.COMPLETED
    updated = OutboxMessage.objects.filter(event_type="event.updated")
    assert updated.count() == 100
    assert all("risk_score" in row.payload["updated_fields"] for row in updated)
    assert Alert.objects.count() == alerts
    assert job_messages(job, "job.completed")[0]["result"] == {"count": 100, "changed": 100}


def test_a_cancelled_reanalysis_stops_before_the_end(client_for, owner, analyzed_events, settings):
    settings.EVENT_ANALYZER = f"{__name__}.SlowAnalyzer"
    settings.EVENT_CAMERA_WEIGHTS = {"garage": 30}
    SlowAnalyzer.seen = 0
    job = queue(client_for(owner), "reanalyze", **RANGE)
    assert run_next().status == JobStatus.CANCELLED
    # 100 batches take 2 s; a cancel is noticed within 0.25 s of work.
    assert SlowAnalyzer.seen < 50
    assert job_messages(job, "job.cancelled") and not job_messages(job, "job.completed")


class LapsingAnalyzer(HeuristicAnalyzer):
    """The heuristic, 20 ms a batch; at the third batch another worker takes this one for dead."""

    seen = 0

    def analyze(self, batch):
        LapsingAnalyzer.seen += 1
        if LapsingAnalyzer.seen == 3:
            jobs_fail_lapsed(now=timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS + 1))
        threading.Event().wait(0.02)
        return HeuristicAnalyzer.analyze(self, batch)


def test_a_job_failed_as_lapsed_by_another_worker_stops_and_stays_failed(
    client_for, owner, analyzed_events, settings
):
    settings.EVENT_ANALYZER = f"{__name__}.LapsingAnalyzer"
    LapsingAnalyzer.seen = 0
    job = queue(client_for(owner), "reanalyze", **RANGE)
    done = run_next()
    assert (done.status, done.error) == (JobStatus.FAILED, LAPSED)
    # 100 batches take 2 s; the failure is noticed within 0.25 s of work.
    assert LapsingAnalyzer.seen < 50
    assert job_messages(job, "job.failed") and not job_messages(job, "job.completed")


def test_a_job_that_raises_is_failed_with_the_error(client_for, owner, analyzed_events, settings):
    settings.EVENT_ANALYZER = f"{__name__}.BrokenAnalyzer"
    job = queue(client_for(owner), "reanalyze", **RANGE)
    done = run_next()
    assert done.status == JobStatus.FAILED
    assert done.error == "RuntimeError: the model exploded"
    assert job_messages(job, "job.failed")[0]["error"] == "RuntimeError: the model exploded"


def test_a_job_running_when_the_worker_stops_is_failed_not_left_running(client_for, viewer, scored_events):
    job = queue(client_for(viewer), "export")
    stop = threading.Event()
    stop.set()
    assert run_next(stop=stop).status == JobStatus.FAILED
    job.refresh_from_db()
    assert job.error == INTERRUPTED
    assert job_messages(job, "job.failed")


def test_a_queued_job_is_claimed_by_one_worker_only(client_for, viewer):
    job = queue(client_for(viewer), "export")
    assert job_claim_next() == job
    assert job_claim_next() is None
    assert len(job_messages(job, "job.started")) == 1


def test_a_cancelled_queued_job_is_never_started(client_for, viewer):
    job_cancel(job=queue(client_for(viewer), "export"))
    assert job_claim_next() is None
