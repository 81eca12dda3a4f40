"""Writes to cameras: heartbeats, status, enabling."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from cameras.models import Camera, CameraStatus


def camera_mark_seen(*, camera_ids: set[str] | list[str], at: datetime | None = None) -> None:
    """Record that cameras sent something: refresh last_seen_at and bring them online."""
    at = at or timezone.now()
    for camera in Camera.objects.filter(pk__in=camera_ids):
        camera_heartbeat(camera=camera, at=at)


def camera_heartbeat(*, camera: Camera, at: datetime | None = None) -> Camera:
    """A camera says it is alive: last_seen_at moves on and an offline camera comes online."""
    at = at or timezone.now()
    with transaction.atomic():
        # Read the status under the row lock: the caller's instance may predate the watchdog
        # marking the camera offline, and a heartbeat must then bring it back online.
        camera.status = Camera.objects.select_for_update().values_list("status", flat=True).get(pk=camera.pk)
        camera.last_seen_at = at
        fields = ["last_seen_at", "updated_at"]
        if camera.status != CameraStatus.ONLINE:
            camera.status = CameraStatus.ONLINE
            fields.append("status")
        # save() (not update()) so the realtime receivers see status changes.
        camera.save(update_fields=fields)
    return camera


# Cameras the watchdog watches: enabled, and not offline or in error already.
WATCHED = Q(enabled=True, status__in=[CameraStatus.ONLINE, CameraStatus.UNKNOWN])


def cameras_mark_silent_offline(*, now: datetime | None = None) -> list[Camera]:
    """The watchdog: every watched camera silent for CAMERA_OFFLINE_SECONDS goes offline (each once)."""
    now = now or timezone.now()
    # A camera that never sent anything counts its silence from its creation.
    silent = WATCHED & Q(heard_at__lt=now - timedelta(seconds=settings.CAMERA_OFFLINE_SECONDS))
    watched = Camera.objects.annotate(heard_at=Coalesce("last_seen_at", "created_at")).filter(silent)
    gone = []
    for pk in watched.values_list("pk", flat=True):
        with transaction.atomic():
            # Re-checked under the row lock (SQLite: in the write transaction): a heartbeat or another
            # watchdog that got there first leaves nothing to do, so no camera goes offline twice.
            camera = watched.select_for_update(skip_locked=True, of=("self",)).filter(pk=pk).first()
            if camera is not None:
                gone.append(camera_set_status(camera=camera, status=CameraStatus.OFFLINE))
    return gone


def camera_set_status(*, camera: Camera, status: str) -> Camera:
    """Set a camera's status (the watchdog, an operator)."""
    if camera.status != status:
        camera.status = status
        camera.save(update_fields=["status", "updated_at"])
    return camera


def camera_set_enabled(*, camera: Camera, enabled: bool) -> Camera:
    """Enable or disable a camera."""
    if camera.enabled != enabled:
        camera.enabled = enabled
        camera.save(update_fields=["enabled", "updated_at"])
    return camera


@transaction.atomic
def cameras_set_enabled(*, cameras, enabled: bool) -> int:
    """Enable or disable many cameras (admin action); each change is a save, so each is broadcast."""
    changed = 0
    for camera in cameras:
        if camera.enabled != enabled:
            camera_set_enabled(camera=camera, enabled=enabled)
            changed += 1
    return changed
