"""Writes to cameras: heartbeats, status, enabling."""

from datetime import datetime

from django.db import transaction
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
    camera.last_seen_at = at
    fields = ["last_seen_at", "updated_at"]
    if camera.status != CameraStatus.ONLINE:
        camera.status = CameraStatus.ONLINE
        fields.append("status")
    # save() (not update()) so the realtime receivers see status changes.
    camera.save(update_fields=fields)
    return camera


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
