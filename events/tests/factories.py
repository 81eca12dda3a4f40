"""Small builders for tests; they go through the services, as production code does."""

from datetime import datetime, timedelta

from django.utils import timezone

from cameras.models import Camera
from events.models import Alert, AlertRule, AlertStatus, Event, Job, JobStatus, JobType
from events.rules import alert_rule_create
from events.services import alert_raise, event_record, job_create


def make_event(
    camera: Camera,
    score: int = 50,
    *,
    started_at: datetime | None = None,
    object_types: tuple[str, ...] = ("person",),
    summary: str = "Someone at the door",
) -> Event:
    """A recorded event on `camera` with `score`, started a minute ago unless told otherwise."""
    return event_record(
        camera=camera,
        started_at=started_at or timezone.now() - timedelta(minutes=1),
        risk_score=score,
        summary=summary,
        object_types=object_types,
    )


def make_alert(
    camera: Camera, score: int = 70, *, rule: AlertRule | None = None, status: str = AlertStatus.PENDING
) -> Alert:
    """An alert on a fresh event of `camera` (the one `rule` raised, if it matched), put into `status`."""
    event = make_event(camera, score)
    alert = event.alerts.filter(rule=rule).first() if rule else None
    alert = alert or alert_raise(event=event, rule=rule, message=f"Alert on {camera.pk}")
    if status != AlertStatus.PENDING:
        alert.status = status
        alert.save(update_fields=["status"])
    return alert


def make_rule(name: str = "Rule", **fields) -> AlertRule:
    """An alert rule through the service."""
    return alert_rule_create(name=name, **fields)


def make_job(user, job_type: str = JobType.EXPORT, *, status: str = JobStatus.QUEUED, **params) -> Job:
    """A job of `user`, put straight into `status` (running jobs is not this issue's)."""
    job = job_create(job_type=job_type, params=params, user=user)
    if status != JobStatus.QUEUED:
        job.status = status
        job.save(update_fields=["status"])
    return job
