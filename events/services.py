"""The write path for detections, events, alerts and jobs. Views, admin and commands call these."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from cameras.models import Camera
from cameras.services import camera_mark_seen
from events.models import (
    Alert,
    AlertRule,
    AlertStatus,
    BatchState,
    Detection,
    DetectionBatch,
    Event,
    Job,
    JobType,
)
from events.risk import risk_level_for
from events.rules import rule_matches
from events.selectors import snapshots_best_first
from events.signals import detections_created
from project.bulk_insert import bulk_insert

BBOX_FIELDS = {"x": "bbox_x", "y": "bbox_y", "width": "bbox_width", "height": "bbox_height"}


class AlertTransitionError(Exception):
    """The alert is in a state from which that action is not allowed."""


@transaction.atomic
def detection_ingest(*, rows: Iterable[dict], validated: bool = False) -> list[Detection]:
    """Store detection rows in one transaction (all or nothing), each in its camera's open batch,
    and mark the cameras seen.

    Each row: camera (Camera), object_type, confidence, detected_at, and optional bbox
    ({"x", "y", "width", "height"}), snapshot, batch_id (the label of a pipeline that batches
    itself: its detections share a batch of their own). Each row is validated by the model's
    rules, unless `validated` says the caller's DetectionWriteSerializer already ran them (its
    fields carry the model's validators).
    """
    now = timezone.now()
    batches: dict[tuple[str, str], DetectionBatch] = {}
    detections = []
    for row in rows:
        bbox = row.get("bbox") or {}
        key = (row["camera"].pk, row.get("batch_id") or "")
        if key not in batches:
            batches[key] = batch_open_for(camera=row["camera"], source_batch_id=key[1], at=now)
        detection = Detection(
            camera=row["camera"],
            object_type=row["object_type"],
            confidence=row["confidence"],
            detected_at=row["detected_at"],
            snapshot=row.get("snapshot"),
            batch=batches[key],
            **{column: bbox.get(key) for key, column in BBOX_FIELDS.items()},
        )
        if not validated:
            # The camera and batch were resolved here; validating them again costs queries per row.
            # The confidence check constraint restates the field's validators (run by clean_fields)
            # and the insert enforces it: validating it here would cost one SELECT per row.
            detection.full_clean(exclude=["camera", "event", "batch"], validate_constraints=False)
        detections.append(detection)
    bulk_insert(detections)
    detections_created.send(sender=Detection, detections=detections)
    camera_mark_seen(camera_ids={d.camera_id for d in detections}, at=now)
    return detections


def batch_open_for(*, camera: Camera, source_batch_id: str = "", at: datetime) -> DetectionBatch:
    """The camera's open batch (for this source label), opened when there is none; call in a transaction.

    The row lock orders ingest against `batches_close_due`: a closer that claimed the batch
    first makes this wait and then find no open batch (so the detection opens a new one); an
    ingest that locked it first makes the closer skip it until the next round.
    """
    open_batches = DetectionBatch.objects.select_for_update().filter(
        camera=camera, source_batch_id=source_batch_id, state=BatchState.OPEN
    )
    batch = open_batches.first()
    if batch is None:
        try:
            with transaction.atomic():
                batch = DetectionBatch.objects.create(
                    camera=camera, source_batch_id=source_batch_id, opened_at=at, last_detection_at=at
                )
        except IntegrityError:
            # Another request opened it between our read and insert (the unique open-batch constraint).
            batch = open_batches.get()
    if batch.last_detection_at < at:
        batch.last_detection_at = at
        batch.save(update_fields=["last_detection_at", "updated_at"])
    return batch


@transaction.atomic
def event_record(
    *,
    camera: Camera,
    started_at: datetime,
    risk_score: int,
    summary: str,
    ended_at: datetime | None = None,
    reasoning: str = "",
    object_types: Iterable[str] = (),
    detection_count: int = 0,
    batch_id: str = "",
    detections: Iterable[Detection] = (),
) -> Event:
    """Save a scored security event (from the analyzer or a pipeline that scores itself)."""
    event = Event(
        camera=camera,
        started_at=started_at,
        ended_at=ended_at,
        risk_score=risk_score,
        summary=summary,
        reasoning=reasoning,
        object_types=sorted(set(object_types)),
        detection_count=detection_count,
        batch_id=batch_id,
    )
    event.full_clean()
    detection_ids = [d.pk for d in detections]
    # event.created is built from this row in post_save, before the detections point at the event.
    event.best_snapshot_id = (
        snapshots_best_first(Detection.objects.filter(pk__in=detection_ids))
        .values_list("id", flat=True)
        .first()
        if detection_ids
        else None
    )
    event.save()
    if detection_ids:
        Detection.objects.filter(pk__in=detection_ids).update(event=event)
    # In the event's transaction: event.created takes a lower sequence than its alerts.
    alerts_evaluate(event=event)
    return event


@transaction.atomic
def alerts_evaluate(*, event: Event) -> list[Alert]:
    """Raise an alert for each enabled rule that matches the event and is out of cooldown for its camera.

    Active hours are checked at the event's start. The cooldown counts from the rule's last
    alert on the same camera.
    """
    now = timezone.now()
    raised = []
    # Locking the rules serializes evaluations: two events recorded at once cannot both pass
    # one rule's cooldown.
    rules = AlertRule.objects.select_for_update().filter(enabled=True).prefetch_related("cameras")
    for rule in rules:
        if not rule_matches(rule=rule, event=event):
            continue
        cooling = Alert.objects.filter(
            rule=rule,
            event__camera_id=event.camera_id,
            created_at__gt=now - timedelta(seconds=rule.cooldown_seconds),
        )
        if rule.cooldown_seconds and cooling.exists():
            continue
        raised.append(alert_raise(event=event, rule=rule, message=f"{rule.name}: {event.summary}"[:300]))
    return raised


EVENT_EDITABLE_FIELDS = {"reviewed", "notes"}


@transaction.atomic
def event_update(*, event: Event, **changes) -> Event:
    """Change what people may change on an event: reviewed, notes."""
    unknown = set(changes) - EVENT_EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    changed = [name for name, value in changes.items() if getattr(event, name) != value]
    if changed:
        for name in changed:
            setattr(event, name, changes[name])
        event.save(update_fields=[*changed, "updated_at"])
    return event


@transaction.atomic
def events_mark_reviewed(*, events: Iterable[Event]) -> int:
    """Mark events reviewed one by one, so that each change is broadcast."""
    count = 0
    for event in events:
        if not event.reviewed:
            event_update(event=event, reviewed=True)
            count += 1
    return count


@transaction.atomic
def event_delete(*, event: Event) -> None:
    """Delete an event (its alerts go with it; its detections stay, unlinked)."""
    event.delete()


@transaction.atomic
def alert_raise(*, event: Event, rule: AlertRule | None, message: str = "") -> Alert:
    """Raise an alert for an event; its severity is the event's risk level."""
    return Alert.objects.create(
        event=event, rule=rule, severity=risk_level_for(event.risk_score), message=message
    )


# Target status → the statuses it may be reached from.
ALERT_TRANSITIONS = {
    AlertStatus.ACKNOWLEDGED: {AlertStatus.PENDING},
    AlertStatus.RESOLVED: {AlertStatus.PENDING, AlertStatus.ACKNOWLEDGED},
    AlertStatus.DISMISSED: {AlertStatus.PENDING, AlertStatus.ACKNOWLEDGED},
}


def _alert_move(*, alert: Alert, to: AlertStatus, user: AbstractBaseUser | None) -> Alert:
    with transaction.atomic():
        # Lock the row: two people pressing "acknowledge" at once must not both succeed.
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.status not in ALERT_TRANSITIONS[to]:
            raise AlertTransitionError(f"cannot move an alert from {locked.status} to {to}")
        now = timezone.now()
        locked.status = to
        setattr(locked, f"{to}_at", now)
        setattr(locked, f"{to}_by", user if user and user.is_authenticated else None)
        locked.save(update_fields=["status", f"{to}_at", f"{to}_by", "updated_at"])
    return locked


def alert_acknowledge(*, alert: Alert, user: AbstractBaseUser | None) -> Alert:
    """Someone has seen the alert (only a pending alert can be acknowledged)."""
    return _alert_move(alert=alert, to=AlertStatus.ACKNOWLEDGED, user=user)


def alert_resolve(*, alert: Alert, user: AbstractBaseUser | None) -> Alert:
    """The situation is handled (from pending or acknowledged)."""
    return _alert_move(alert=alert, to=AlertStatus.RESOLVED, user=user)


def alert_dismiss(*, alert: Alert, user: AbstractBaseUser | None) -> Alert:
    """A false alarm (from pending or acknowledged)."""
    return _alert_move(alert=alert, to=AlertStatus.DISMISSED, user=user)


@transaction.atomic
def job_create(*, job_type: JobType, params: dict, user: AbstractBaseUser | None) -> Job:
    """Queue a background job (running it arrives with the jobs issue)."""
    return Job.objects.create(
        job_type=job_type, params=params, created_by=user if user and user.is_authenticated else None
    )
