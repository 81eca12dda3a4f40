"""Reads with real queries: what a user may see of detections, events, alerts and jobs."""

from django.db.models import QuerySet

from cameras.visibility import restrict_to_visible
from events.models import Alert, Detection, Event, Job


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
    return jobs if user.is_staff else jobs.filter(created_by=user)
