"""After ingest: close due detection batches (each exactly once), analyze them, record events.

`batches_close_due` is the one entry point; the worker loop, a management command, the admin
or a test calls it with the current time. Several processes may call it at the same moment:
each batch is claimed by exactly one of them.
"""

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from events.analyzers import Analysis, Analyzer, HeuristicAnalyzer, analyzer_load
from events.models import BatchState, DetectionBatch, Event
from events.services import event_record
from events.signals import batch_enrichment

logger = logging.getLogger(__name__)


def batches_close_due(*, now: datetime | None = None) -> list[DetectionBatch]:
    """Close every open batch past BATCH_WINDOW_SECONDS since it opened or BATCH_IDLE_SECONDS since
    its last detection, take up failed batches whose retry is due, and analyze each one claimed.

    Returns the batches this call claimed (another process's claims are not among them).
    """
    now = now or timezone.now()
    window = timedelta(seconds=settings.BATCH_WINDOW_SECONDS)
    idle = timedelta(seconds=settings.BATCH_IDLE_SECONDS)
    due_open = Q(state=BatchState.OPEN) & (
        Q(opened_at__lte=now - window) | Q(last_detection_at__lte=now - idle)
    )
    # A closing batch whose claim lapsed was held by a process that died mid-analysis.
    due_again = Q(state__in=[BatchState.FAILED, BatchState.CLOSING], next_attempt_at__lte=now)
    claimed = _claim(due_open | due_again, now=now)
    analyzer = analyzer_load()
    for batch in claimed:
        batch_analyze(batch=batch, analyzer=analyzer, now=now)
    return claimed


def _claim(due: Q, *, now: datetime) -> list[DetectionBatch]:
    """Move the due batches to `closing` for this caller only; their claim lapses after BATCH_CLAIM_SECONDS.

    Each claim is a save(), not a bare update(): the realtime receiver announces the batch
    (`detection.batch`) when its closed_at is first set.
    """
    candidates = DetectionBatch.objects.filter(due).select_related("camera").order_by("opened_at", "id")
    lease = now + timedelta(seconds=settings.BATCH_CLAIM_SECONDS)
    claimed: list[DetectionBatch] = []

    def take(batch: DetectionBatch) -> None:
        batch.state = BatchState.CLOSING
        batch.closed_at = batch.closed_at or now
        batch.next_attempt_at = lease
        batch.save(update_fields=["state", "closed_at", "next_attempt_at", "updated_at"])
        claimed.append(batch)

    if connection.features.has_select_for_update_skip_locked:
        # Rows another process is claiming (or an ingest is adding to) are skipped, not waited for;
        # once that transaction commits they are no longer due (or get a later turn). Only the batch
        # rows are locked (`of`): a camera row held elsewhere must not make its batches skipped.
        with transaction.atomic():
            for batch in candidates.select_for_update(skip_locked=True, of=("self",)):
                take(batch)
        return claimed
    # SQLite has no row locks: a compare-and-set on the state and claim time is the claim, and
    # of several callers that read the same candidate only one UPDATE can still match it.
    for batch in candidates:
        with transaction.atomic():
            won = DetectionBatch.objects.filter(
                pk=batch.pk, state=batch.state, next_attempt_at=batch.next_attempt_at
            ).update(state=BatchState.CLOSING, next_attempt_at=lease)
            if won:
                take(batch)
    return claimed


def batch_analyze(
    *, batch: DetectionBatch, analyzer: Analyzer | None = None, now: datetime | None = None
) -> Event | None:
    """Analyze a claimed batch outside any transaction and record its event, or keep it for a retry.

    A failing analyzer leaves the batch `failed` with attempts + 1 and a retry time that doubles
    each time; once BATCH_ANALYSIS_MAX_ATTEMPTS have failed, the heuristic scores it.
    """
    now = now or timezone.now()
    count = batch.detections.count()
    if count == 0:
        # Its detections were deleted before it closed: nothing to score.
        _finish(batch, state=BatchState.CLOSED)
        return None
    analyzer = analyzer or analyzer_load()
    attempt = batch.attempts + 1
    _enrichment(batch, "started", detection_count=count, attempt=attempt, analyzer=_name(analyzer))
    try:
        analysis = analyzer.analyze(batch)
    # Any failure of a pluggable analyzer (a bug, an outage) must keep the batch, never lose it.
    except Exception as error:  # noqa: BLE001
        return _batch_failed(batch, error=error, attempt=attempt, now=now)
    return _batch_record(batch, analysis, status="completed")


def _batch_failed(batch: DetectionBatch, *, error: Exception, attempt: int, now: datetime) -> Event | None:
    logger.warning("analyzer failed on batch %s (attempt %d): %r", batch.pk, attempt, error)
    message = f"{type(error).__name__}: {error}"[:500]
    batch.attempts = attempt
    batch.last_error = message
    if attempt >= settings.BATCH_ANALYSIS_MAX_ATTEMPTS:
        _enrichment(batch, "failed", error=message, attempt=attempt, will_retry=False)
        analysis = HeuristicAnalyzer().analyze(batch)
        note = f"The configured analyzer failed {attempt} times (last: {message}); heuristic fallback used."
        analysis = replace(analysis, reasoning=f"{note}\n{analysis.reasoning}")
        return _batch_record(batch, analysis, status="fallback")
    retry_at = now + timedelta(seconds=settings.BATCH_RETRY_SECONDS * 2 ** (attempt - 1))
    batch.state = BatchState.FAILED
    batch.next_attempt_at = retry_at
    batch.save(update_fields=["state", "attempts", "last_error", "next_attempt_at", "updated_at"])
    _enrichment(
        batch, "failed", error=message, attempt=attempt, will_retry=True, retry_at=retry_at.isoformat()
    )
    return None


def _batch_record(batch: DetectionBatch, analysis: Analysis, *, status: str) -> Event | None:
    """Record the event and its alerts in one transaction, unless another process already did."""
    _enrichment(batch, "progress", progress=90, current_step="recording the event")
    with transaction.atomic():
        locked = (
            DetectionBatch.objects.select_for_update(of=("self",)).select_related("camera").get(pk=batch.pk)
        )
        if locked.event_id is not None or locked.state == BatchState.CLOSED:
            # Our claim lapsed and another process took the batch up and finished it first.
            return None
        detections = list(locked.detections.order_by("detected_at", "id"))
        # Published inside the transaction, so it goes out on commit just before event.created.
        _enrichment(
            locked, "completed", status=status, enriched_count=len(detections), risk_score=analysis.risk_score
        )
        event = event_record(
            camera=locked.camera,
            started_at=detections[0].detected_at,
            ended_at=detections[-1].detected_at,
            risk_score=analysis.risk_score,
            summary=analysis.summary,
            reasoning=analysis.reasoning,
            object_types=analysis.object_types,
            detection_count=len(detections),
            batch_id=str(locked.pk),
            detections=detections,
        )
        locked.attempts, locked.last_error = batch.attempts, batch.last_error
        _finish(locked, state=BatchState.CLOSED, event=event)
    return event


def _finish(batch: DetectionBatch, *, state: str, event: Event | None = None) -> None:
    batch.state = state
    batch.event = event
    batch.next_attempt_at = None
    batch.save(update_fields=["state", "event", "attempts", "last_error", "next_attempt_at", "updated_at"])


def _enrichment(batch: DetectionBatch, stage: str, **details) -> None:
    batch_enrichment.send(sender=DetectionBatch, batch=batch, stage=stage, details=details)


def _name(analyzer: Analyzer) -> str:
    return type(analyzer).__name__
