"""Running queued jobs: claim one, do its work with paced progress and prompt cancellation, record the end.

The worker claims a job (`job_claim_next`) and runs it (`job_run`) in a thread of its own. A
job always ends `completed`, `cancelled` or `failed` with the error in its row — also when the
worker stops under it — never stays `running`. A worker killed outright (SIGKILL, the OOM killer,
a power cut) cannot record anything: its job's lease, which the worker's loop renews while it lives
(`job_lease_renew`), lapses, and the next worker that looks fails the job (`jobs_fail_lapsed`).
The lease stands for the worker, not for progress: one long step of a live job (counting a big
table, storing the file) must not pass for a dead worker.
"""

import csv
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events.analyzers import analyzer_load
from events.api.events import EventSerializer
from events.filters import EventFilter
from events.jobs import job_export_save
from events.models import DetectionBatch, Event, Job, JobStatus, JobType
from events.selectors import event_list

logger = logging.getLogger(__name__)

# At most 4 job.progress messages a second per job (SPEC §5); it is also how often a running job
# looks for a cancellation, so a cancel stops the work well within a second.
PROGRESS_PACE_SECONDS = 0.25
# An export is the events API's list for the same filters: its event fields, less the camera's name
# (an export names cameras by id), the snapshot URL (it needs a request) and the rows' bookkeeping times.
EXPORT_FIELDS = [
    name
    for name in EventSerializer.Meta.fields
    if name not in {"camera_name", "best_snapshot_url", "created_at", "updated_at"}
]
INTERRUPTED = "The worker stopped before the job finished; queue it again."
# Failed, not queued again: a job that got its worker killed (an export too big for its memory)
# would kill the next one too, and a failure says what happened where the user looks.
LAPSED = "The worker running the job stopped (killed, or its host went down); queue it again."


class JobCancelled(Exception):
    """The job was ended elsewhere while it ran: cancelled, or failed by a worker that took ours for dead."""


class JobInterrupted(Exception):
    """The worker is stopping."""


def job_claim_next() -> Job | None:
    """Take the oldest queued job for this caller alone: it becomes `running` (job.started)."""
    queued = Job.objects.filter(status=JobStatus.QUEUED).order_by("created_at", "id")
    for pk in queued.values_list("pk", flat=True)[:20]:
        with transaction.atomic():
            # Re-read under the row lock (SQLite: in the write transaction): a job another worker
            # took, or one cancelled meanwhile, is no longer queued and is passed over.
            job = queued.select_for_update(skip_locked=True).filter(pk=pk).first()
            if job is not None:
                job.status = JobStatus.RUNNING
                job.started_at = timezone.now()
                job.lease_expires_at = _lease_end()
                job.message = "Running"
                job.save(update_fields=["status", "started_at", "lease_expires_at", "message", "updated_at"])
                return job
    return None


def _lease_end() -> datetime:
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)


def job_lease_renew(*, job: Job) -> None:
    """Extend the lease of a job this worker is running (nothing once it has ended)."""
    # An UPDATE without save(): a renewal is no news for the job's watchers (no job.progress).
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(lease_expires_at=_lease_end())


def jobs_fail_lapsed(*, now: datetime) -> int:
    """Fail the running jobs whose worker stopped renewing their lease; returns how many."""
    # A lease of null: running since before leases existed, when its worker was stopped to deploy them.
    lapsed = Job.objects.filter(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True), status=JobStatus.RUNNING
    )
    failed = 0
    for pk in lapsed.values_list("pk", flat=True)[:100]:
        with transaction.atomic():
            # Re-read under the row lock: a job whose worker renewed it meanwhile is passed over.
            job = lapsed.select_for_update(skip_locked=True).filter(pk=pk).first()
            if job is not None:
                _job_mark_failed(job, error=LAPSED)
                failed += 1
    if failed:
        logger.warning("failed %d job(s) whose worker stopped renewing their lease", failed)
    return failed


class JobProgress:
    """Paces a running job's progress saves and notices cancellation and worker shutdown."""

    def __init__(
        self, job: Job, stop: threading.Event | None = None, clock: Callable[[], float] = time.monotonic
    ):
        self.job = job
        self.stop = stop
        self.clock = clock
        self._last = clock()

    def update(self, done: int, total: int) -> None:
        """`done` of `total` units finished; saves the whole percent at most every PROGRESS_PACE_SECONDS."""
        if self.stop is not None and self.stop.is_set():
            raise JobInterrupted
        now = self.clock()
        if now - self._last < PROGRESS_PACE_SECONDS:
            return
        self._last = now
        # 100 only when the job is recorded as completed, with its result.
        percent = min(99, done * 100 // total) if total else 0
        with transaction.atomic():
            status = Job.objects.select_for_update().values_list("status", flat=True).get(pk=self.job.pk)
            # Cancelled, or failed by another worker that took this one for dead: stop the work.
            if status != JobStatus.RUNNING:
                raise JobCancelled
            if percent > self.job.progress:
                self.job.progress = percent
                self.job.save(update_fields=["progress", "updated_at"])


def job_run(*, job: Job, stop: threading.Event | None = None) -> Job:
    """Do a claimed job to its end: completed with its result, cancelled, or failed with the error."""
    progress = JobProgress(job, stop)
    try:
        if job.job_type == JobType.EXPORT:
            _export(job, progress)
        elif job.job_type == JobType.REANALYZE:
            _reanalyze(job, progress)
        else:
            raise ValueError(f"unknown job type {job.job_type!r}")
    except JobCancelled:
        logger.info("job %s ended elsewhere (cancelled, or failed as lapsed)", job.pk)
    except JobInterrupted:
        _job_fail(job, error=INTERRUPTED)
    # Whatever a job raises must end in `failed` with the error, never in a job stuck `running`.
    except Exception as error:
        logger.exception("job %s failed", job.pk)
        _job_fail(job, error=f"{type(error).__name__}: {error}")
    job.refresh_from_db()
    return job


def _job_fail(job: Job, *, error: str) -> None:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status == JobStatus.RUNNING:
            _job_mark_failed(locked, error=error)


def _job_mark_failed(locked: Job, *, error: str) -> None:
    """Record a running job, locked by the caller, as failed with `error` (job.failed)."""
    locked.status = JobStatus.FAILED
    locked.error = error[:2000]
    locked.message = "Failed"
    locked.finished_at = timezone.now()
    locked.save(update_fields=["status", "error", "message", "finished_at", "updated_at"])


def _job_complete(job: Job, *, result: dict, message: str) -> None:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status != JobStatus.RUNNING:
            raise JobCancelled
        locked.status = JobStatus.COMPLETED
        locked.progress = 100
        locked.result = result
        locked.message = message
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "progress", "result", "message", "finished_at", "updated_at"])


def export_events(job: Job):
    """The events an export job covers: the events API's filters over what its creator may see."""
    if job.created_by is None:
        raise ValueError("the job has no owner whose cameras it could export")
    params = {key: value for key, value in job.params.items() if key != "format"}
    matching = EventFilter(data=params, queryset=event_list(user=job.created_by))
    if not matching.is_valid():
        raise ValueError(f"invalid filters: {matching.errors.as_json()}")
    return matching.qs.order_by("started_at", "id")


def _export_row(event: Event) -> dict:
    row = {field: getattr(event, field) for field in EXPORT_FIELDS}
    for field in ("started_at", "ended_at"):
        row[field] = row[field].isoformat() if row[field] else None
    return row


def _export_lines(rows: Iterator[dict], export_format: str) -> Iterator[str]:
    if export_format == "json":
        yield "["
        for index, row in enumerate(rows):
            yield ("," if index else "") + "\n" + json.dumps(row, ensure_ascii=False)
        yield "\n]\n"
        return
    buffer = _LineBuffer()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    yield buffer.take()
    for row in rows:
        writer.writerow({**row, "object_types": " ".join(row["object_types"])})
        yield buffer.take()


class _LineBuffer:
    """A write target for csv that hands back what was written since the last take()."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def _export(job: Job, progress: JobProgress) -> None:
    """Stream the matching events to a file, then store it as the job's download."""
    export_format = job.params.get("format", "csv")
    events = export_events(job)
    total = events.count()

    def rows() -> Iterator[dict]:
        for done, event in enumerate(events.iterator(chunk_size=500)):
            progress.update(done, total)
            yield _export_row(event)

    # A temporary file, not memory: an export of every event of a year must not hold it all at once.
    with tempfile.TemporaryFile("w+b") as spool:
        for text in _export_lines(rows(), export_format):
            spool.write(text.encode())
        size = spool.tell()
        spool.seek(0)
        with transaction.atomic():
            # Locked so a cancel that lands now cannot be overwritten by the completion.
            if Job.objects.select_for_update().get(pk=job.pk).status != JobStatus.RUNNING:
                raise JobCancelled
            job_export_save(job=job, content=File(spool), export_format=export_format, count=total, size=size)


def _reanalyze(job: Job, progress: JobProgress) -> None:
    """Score the range's events again with the current analyzer (event.updated); raises no alerts."""
    analyzer = analyzer_load()
    batches = (
        DetectionBatch.objects.filter(
            event__started_at__gte=job.params["started_after"],
            event__started_at__lt=job.params["started_before"],
        )
        .select_related("event", "camera")
        .order_by("event__started_at", "event_id")
    )
    total = batches.count()
    changed = 0
    for done, batch in enumerate(batches.iterator(chunk_size=200)):
        progress.update(done, total)
        analysis = analyzer.analyze(batch)
        event = batch.event
        new = {
            "risk_score": analysis.risk_score,
            "summary": analysis.summary,
            "reasoning": analysis.reasoning,
            "object_types": sorted(set(analysis.object_types)),
        }
        fields = [name for name, value in new.items() if getattr(event, name) != value]
        if fields:
            for name in fields:
                setattr(event, name, new[name])
            # A save, so the receivers announce event.updated; alert rules are not evaluated again:
            # a re-score must not alert twice for what already happened.
            event.save(update_fields=[*fields, "updated_at"])
            changed += 1
    _job_complete(
        job, result={"count": total, "changed": changed}, message=f"{changed} of {total} events re-scored"
    )
