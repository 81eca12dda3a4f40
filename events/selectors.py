"""Reads with real queries: what a user may see of detections, events, alerts and jobs."""

from collections import Counter

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDay, TruncHour, TruncWeek

from cameras.visibility import restrict_to_visible, sees_everything
from events.models import Alert, Detection, Event, Job
from events.risk import RiskLevel


def detection_list(*, user) -> QuerySet[Detection]:
    """Detections of the cameras `user` may see."""
    return restrict_to_visible(Detection.objects.select_related("camera"), user)


def event_list(*, user) -> QuerySet[Event]:
    """Events of the cameras `user` may see."""
    return restrict_to_visible(Event.objects.select_related("camera"), user)


def alert_list(*, user) -> QuerySet[Alert]:
    """Alerts on events of the cameras `user` may see."""
    return restrict_to_visible(
        Alert.objects.select_related("event", "event__camera", "rule"), user, camera_field="event__camera"
    )


def job_list(*, user) -> QuerySet[Job]:
    """Staff see every job; others the jobs they started."""
    jobs = Job.objects.select_related("created_by")
    return jobs if sees_everything(user) else jobs.filter(created_by=user)


def job_visible_to(job_id: str, user) -> bool | None:
    """None if there is no such job; otherwise whether `user` may follow it (the rule of job_list)."""
    if not Job.objects.filter(pk=job_id).exists():
        return None
    return job_list(user=user).filter(pk=job_id).exists()


def with_snapshot(detections: QuerySet[Detection]) -> QuerySet[Detection]:
    """Those of `detections` that have a snapshot."""
    return detections.exclude(snapshot="").exclude(snapshot__isnull=True)


def snapshots_best_first(detections: QuerySet[Detection]) -> QuerySet[Detection]:
    """Those of `detections` that have a snapshot, the best first: most confident, then latest."""
    return with_snapshot(detections).order_by("-confidence", "-detected_at", "-id")


def snapshots_latest_first(detections: QuerySet[Detection]) -> QuerySet[Detection]:
    """Those of `detections` that have a snapshot, the most recently detected first."""
    return with_snapshot(detections).order_by("-detected_at", "-id")


def events_with_best_snapshot(events: QuerySet[Event]) -> QuerySet[Event]:
    """Annotate `best_snapshot_id`: the event's best detection that has a snapshot."""
    best = snapshots_best_first(Detection.objects.filter(event=OuterRef("pk"))).values("id")[:1]
    return events.annotate(best_snapshot_id=Subquery(best))


def event_best_snapshot_id(event: Event) -> int | None:
    """The id of the event's best snapshot: its annotation when it was read with one, else one query."""
    if hasattr(event, "best_snapshot_id"):
        return event.best_snapshot_id
    return snapshots_best_first(Detection.objects.filter(event=event)).values_list("id", flat=True).first()


def event_stats(events: QuerySet[Event]) -> dict:
    """Counts of `events` in total and by risk level, camera and object type (each level present)."""
    events = events.order_by()
    by_level = {level.value: 0 for level in RiskLevel}
    by_level.update(events.values_list("risk_level").annotate(n=Count("id")))
    by_camera = dict(events.values_list("camera_id").annotate(n=Count("id")).order_by("camera_id"))
    by_object_type: Counter[str] = Counter()
    # object_types is stored sorted and de-duplicated, so there are few distinct lists to expand.
    for object_types, count in events.values_list("object_types").annotate(n=Count("id")):
        for object_type in object_types:
            by_object_type[object_type] += count
    return {
        "total": sum(by_level.values()),
        "by_risk_level": by_level,
        "by_camera": by_camera,
        "by_object_type": dict(sorted(by_object_type.items())),
    }


TIMELINE_BUCKETS = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}


def event_timeline(events: QuerySet[Event], *, bucket: str) -> list[dict]:
    """`events` counted per hour, day or week (in TIME_ZONE), oldest bucket first; empty ones left out."""
    if bucket not in TIMELINE_BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}, expected one of {', '.join(TIMELINE_BUCKETS)}")
    level_counts = {level.value: Count("id", filter=Q(risk_level=level)) for level in RiskLevel}
    rows = (
        events.order_by()
        .annotate(start=TIMELINE_BUCKETS[bucket]("started_at"))
        .values("start")
        .annotate(count=Count("id"), max_risk_score=Max("risk_score"), **level_counts)
        .order_by("start")
    )
    return [
        {
            "start": row["start"],
            "count": row["count"],
            "max_risk_score": row["max_risk_score"],
            "by_risk_level": {level.value: row[level.value] for level in RiskLevel},
        }
        for row in rows
    ]


def cameras_with_latest_snapshot(cameras: QuerySet) -> QuerySet:
    """Annotate `latest_snapshot_id`: the camera's most recent detection that has a snapshot."""
    latest = snapshots_latest_first(Detection.objects.filter(camera=OuterRef("pk"))).values("id")[:1]
    return cameras.annotate(latest_snapshot_id=Subquery(latest))
