"""Cameras and who may see them."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class CameraStatus(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    ERROR = "error", "Error"
    UNKNOWN = "unknown", "Unknown"


class Camera(models.Model):
    """A camera feeding detections; its slug is the `camera_id` everywhere in JSON."""

    id = models.SlugField(primary_key=True, max_length=64)
    name = models.CharField(max_length=120)
    location = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=CameraStatus.choices, default=CameraStatus.UNKNOWN, db_index=True
    )
    enabled = models.BooleanField(default=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    viewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="granted_cameras",
        help_text="Non-staff users who may see this camera.",
    )
    viewer_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="granted_cameras",
        help_text="Groups whose members may see this camera.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("send_heartbeat", "Can send camera heartbeats")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"
