"""Model signals → (event type, payload) → the broadcaster. No business rules, no other writes."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from cameras.models import Camera, CameraStatus
from events.models import Alert, AlertStatus, Detection, DetectionBatch, Event, Job, JobStatus
from events.signals import batch_enrichment, detections_created
from realtime.broadcast import Message, notify_visibility_changed, publish, publish_many
from realtime.event_types import WebSocketEventType as T
from realtime.payloads import (
    alert_payload,
    camera_payload,
    detection_batch_payload,
    detection_payload,
    enrichment_payload,
    event_payload,
    iso,
    job_payload,
)

IGNORED_FIELDS = {"updated_at", "created_at"}


def _remember_previous(sender, instance, update_fields=None, **kwargs) -> None:
    """Keep the stored values, so post_save can tell what changed (and from what)."""
    if instance._state.adding:
        instance._realtime_previous = None
        return
    fields = [f.attname for f in sender._meta.concrete_fields if f.attname not in IGNORED_FIELDS]
    if update_fields is not None:
        # Only these can change: a heartbeat reads back one column, not the whole row.
        fields = [
            name for name in fields if name in update_fields or name.removesuffix("_id") in update_fields
        ]
    instance._realtime_previous = (
        sender.objects.filter(pk=instance.pk).values(*fields).first() if fields else {}
    )


def _changed_fields(instance) -> dict:
    """Field name → previous value, for every field this save changed."""
    previous = getattr(instance, "_realtime_previous", None) or {}
    return {name: old for name, old in previous.items() if getattr(instance, name) != old}


for model in (Camera, Event, Alert, Job, DetectionBatch):
    pre_save.connect(_remember_previous, sender=model, dispatch_uid=f"realtime-previous-{model.__name__}")


@receiver(post_save, sender=Event, dispatch_uid="realtime-event-saved")
def event_saved(sender, instance: Event, created: bool, **kwargs) -> None:
    """event.created / event.updated."""
    payload = event_payload(instance)
    if created:
        publish(T.EVENT_CREATED, payload)
    elif changed := _changed_fields(instance):
        publish(T.EVENT_UPDATED, {**payload, "updated_fields": sorted(changed)})


@receiver(post_delete, sender=Event, dispatch_uid="realtime-event-deleted")
def event_deleted(sender, instance: Event, **kwargs) -> None:
    """event.deleted."""
    publish(T.EVENT_DELETED, {"id": instance.id, "camera_id": instance.camera_id})


@receiver(post_save, sender=Detection, dispatch_uid="realtime-detection-saved")
def detection_saved(sender, instance: Detection, created: bool, **kwargs) -> None:
    """detection.new for a detection saved one by one (admin, shell)."""
    if created:
        publish(T.DETECTION_NEW, detection_payload(instance))


@receiver(detections_created, dispatch_uid="realtime-detections-created")
def detections_bulk_created(sender, detections: list[Detection], **kwargs) -> None:
    """detection.new for each bulk-created detection (bulk_create sends no post_save)."""
    publish_many([Message(T.DETECTION_NEW, detection_payload(d)) for d in detections])


@receiver(post_save, sender=DetectionBatch, dispatch_uid="realtime-batch-saved")
def batch_saved(sender, instance: DetectionBatch, created: bool, **kwargs) -> None:
    """detection.batch when a batch closes (its closed_at is set, once; retries keep it)."""
    if created or not instance.closed_at or "closed_at" not in _changed_fields(instance):
        return
    detection_ids = list(instance.detections.order_by("id").values_list("id", flat=True))
    publish(T.DETECTION_BATCH, detection_batch_payload(instance, detection_ids))


ENRICHMENT_TYPES = {
    "started": T.ENRICHMENT_STARTED,
    "progress": T.ENRICHMENT_PROGRESS,
    "completed": T.ENRICHMENT_COMPLETED,
    "failed": T.ENRICHMENT_FAILED,
}


@receiver(batch_enrichment, dispatch_uid="realtime-batch-enrichment")
def batch_enrichment_step(sender, batch: DetectionBatch, stage: str, details: dict, **kwargs) -> None:
    """enrichment.started / progress / completed / failed (ephemeral: live only, never replayed)."""
    publish(ENRICHMENT_TYPES[stage], enrichment_payload(batch, details))


@receiver(post_save, sender=Camera, dispatch_uid="realtime-camera-saved")
def camera_saved(sender, instance: Camera, created: bool, **kwargs) -> None:
    """camera.status_changed (+ online/offline/error), camera.enabled/disabled, camera.config_updated."""
    payload = camera_payload(instance)
    if created:
        publish(T.CAMERA_CONFIG_UPDATED, {**payload, "updated_fields": ["created"]})
        return
    changed = _changed_fields(instance)
    changed.pop("last_seen_at", None)  # heartbeats alone are not news
    messages = []
    if "status" in changed:
        messages.append(
            Message(T.CAMERA_STATUS_CHANGED, {**payload, "previous_status": changed.pop("status")})
        )
        at = iso(instance.updated_at)
        if instance.status == CameraStatus.ONLINE:
            messages.append(Message(T.CAMERA_ONLINE, {**payload, "timestamp": at}))
        elif instance.status == CameraStatus.OFFLINE:
            messages.append(Message(T.CAMERA_OFFLINE, {**payload, "timestamp": at}))
        elif instance.status == CameraStatus.ERROR:
            messages.append(
                Message(T.CAMERA_ERROR, {**payload, "error": "camera reported an error", "timestamp": at})
            )
    if "enabled" in changed:
        changed.pop("enabled")
        at = iso(instance.updated_at)
        if instance.enabled:
            messages.append(Message(T.CAMERA_ENABLED, {**payload, "enabled_at": at}))
        else:
            messages.append(Message(T.CAMERA_DISABLED, {**payload, "disabled_at": at}))
    if changed:
        messages.append(Message(T.CAMERA_CONFIG_UPDATED, {**payload, "updated_fields": sorted(changed)}))
    publish_many(messages)


ALERT_STATUS_TYPES = {
    AlertStatus.ACKNOWLEDGED: T.ALERT_ACKNOWLEDGED,
    AlertStatus.RESOLVED: T.ALERT_RESOLVED,
    AlertStatus.DISMISSED: T.ALERT_DISMISSED,
}


@receiver(post_save, sender=Alert, dispatch_uid="realtime-alert-saved")
def alert_saved(sender, instance: Alert, created: bool, **kwargs) -> None:
    """alert.created / alert.acknowledged|resolved|dismissed / alert.updated."""
    payload = alert_payload(instance)
    changed = {} if created else _changed_fields(instance)
    if created:
        publish(T.ALERT_CREATED, payload)
    elif "status" in changed and instance.status in ALERT_STATUS_TYPES:
        publish(ALERT_STATUS_TYPES[instance.status], payload)
    elif changed:
        publish(T.ALERT_UPDATED, {**payload, "updated_fields": sorted(changed)})


@receiver(pre_delete, sender=Alert, dispatch_uid="realtime-alert-deleting")
def alert_deleting(sender, instance: Alert, **kwargs) -> None:
    """Remember the camera: when an event's deletion cascades, the event is gone by post_delete."""
    instance._realtime_camera_id = (
        Event.objects.filter(pk=instance.event_id).values_list("camera_id", flat=True).first()
    )


@receiver(post_delete, sender=Alert, dispatch_uid="realtime-alert-deleted")
def alert_deleted(sender, instance: Alert, **kwargs) -> None:
    """alert.deleted."""
    camera_id = getattr(instance, "_realtime_camera_id", None) or ""
    publish(T.ALERT_DELETED, {"id": instance.id, "event_id": instance.event_id, "camera_id": camera_id})


JOB_STATUS_TYPES = {
    JobStatus.RUNNING: (T.JOB_STARTED, "started_at"),
    JobStatus.COMPLETED: (T.JOB_COMPLETED, "completed_at"),
    JobStatus.FAILED: (T.JOB_FAILED, "failed_at"),
    JobStatus.CANCELLED: (T.JOB_CANCELLED, "cancelled_at"),
}


@receiver(post_save, sender=Job, dispatch_uid="realtime-job-saved")
def job_saved(sender, instance: Job, created: bool, **kwargs) -> None:
    """job.started / job.progress / job.completed|failed|cancelled (the job runner paces progress saves)."""
    if created:
        return
    changed = _changed_fields(instance)
    payload = job_payload(instance)
    owner = instance.created_by_id
    messages = []
    if "status" in changed and instance.status in JOB_STATUS_TYPES:
        event_type, time_field = JOB_STATUS_TYPES[instance.status]
        at = iso(instance.finished_at or instance.started_at or instance.updated_at)
        messages.append(Message(event_type, {**payload, time_field: at}, owner_id=owner))
    elif "progress" in changed:
        messages.append(Message(T.JOB_PROGRESS, payload, owner_id=owner))
    publish_many(messages)


def grants_changed(sender, **kwargs) -> None:
    """Who may see which camera changed: live connections recompute their user's cameras."""
    if kwargs.get("action", "post_").startswith("post_"):  # m2m: after the change; post_delete: always
        notify_visibility_changed()


for through in (Camera.viewers.through, Camera.viewer_groups.through, get_user_model().groups.through):
    m2m_changed.connect(grants_changed, sender=through, dispatch_uid=f"realtime-grants-{through.__name__}")
post_delete.connect(grants_changed, sender=Camera, dispatch_uid="realtime-grants-camera")

# The user fields that decide whether and what a user may see (password: their sessions).
USER_ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser", "password")


@receiver(pre_save, sender=get_user_model(), dispatch_uid="realtime-user-access-before")
def user_access_before(sender, instance, update_fields=None, **kwargs) -> None:
    """Keep the stored access fields this save may change (none for a login's `last_login`: no query)."""
    fields = [f for f in USER_ACCESS_FIELDS if update_fields is None or f in update_fields]
    instance._realtime_access = (
        None
        if instance._state.adding or not fields
        else sender.objects.filter(pk=instance.pk).values(*fields).first()
    )


@receiver(post_save, sender=get_user_model(), dispatch_uid="realtime-user-access-saved")
def user_access_saved(sender, instance, created: bool, **kwargs) -> None:
    """That user's live connections re-read them, if the save changed an access field."""
    previous = getattr(instance, "_realtime_access", None) or {}
    if any(getattr(instance, name) != old for name, old in previous.items()):
        notify_visibility_changed(user_id=instance.pk)


@receiver(post_delete, sender=get_user_model(), dispatch_uid="realtime-user-deleted")
@receiver(post_delete, sender=Token, dispatch_uid="realtime-token-deleted")
def credential_deleted(sender, instance, **kwargs) -> None:
    """A deleted user or API token: the sockets it opened close."""
    notify_visibility_changed(user_id=instance.pk if sender is not Token else instance.user_id)


@receiver(user_logged_out, dispatch_uid="realtime-user-logged-out")
def session_ended(sender, user, **kwargs) -> None:
    """A logout ends its session: the sockets opened with it close."""
    if user is not None:
        notify_visibility_changed(user_id=user.pk)
