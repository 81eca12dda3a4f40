"""Detections, security events, alert rules, alerts and background jobs."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from cameras.models import Camera
from events.risk import RiskLevel, risk_level_constraint_q, risk_level_for


def detected_at_plausible(value) -> None:
    """A detection time within DETECTION_CLOCK_SKEW_SECONDS of now (a camera with a wrong clock
    would otherwise put events into another day, or close its batch at once)."""
    skew = timedelta(seconds=settings.DETECTION_CLOCK_SKEW_SECONDS)
    now = timezone.now()
    if value > now + skew:
        raise ValidationError("This time is in the future: check the camera's clock.", code="future")
    if value < now - skew:
        raise ValidationError(
            f"This time is more than {settings.DETECTION_CLOCK_SKEW_SECONDS} s in the past.", code="past"
        )


def snapshot_size_allowed(file) -> None:
    """A snapshot at most DETECTION_SNAPSHOT_MAX_BYTES (a camera frame is a few hundred KiB)."""
    if file and file.size > settings.DETECTION_SNAPSHOT_MAX_BYTES:
        raise ValidationError(
            f"A snapshot may be at most {settings.DETECTION_SNAPSHOT_MAX_BYTES} bytes.", code="too_large"
        )


class BatchState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSING = "closing", "Closing"
    CLOSED = "closed", "Closed"
    FAILED = "failed", "Failed"


class DetectionBatch(models.Model):
    """Detections of one camera that become one event: open while detections arrive, then analyzed.

    open → closing (claimed by one process; `closed_at` set, `detection.batch` sent) → closed (the
    event is recorded) or failed (the analyzer failed; retried at `next_attempt_at`).
    """

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="batches")
    # The label of a pipeline that batches itself (`batch_id` in a detection post); "" for ours.
    source_batch_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=BatchState.choices, default=BatchState.OPEN)
    # When Lookout received the first and the latest detection (the server's clock, not the camera's).
    opened_at = models.DateTimeField()
    last_detection_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Failed analyses so far.")
    # Failed: when to retry. Closing: when the claim lapses (the process that held it died).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    event = models.OneToOneField(
        "Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="batch"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name_plural = "detection batches"
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="batch_state_due")]
        constraints = [
            # Ingest relies on it: two requests opening a batch for one camera at once, one wins.
            models.UniqueConstraint(
                fields=["camera", "source_batch_id"],
                condition=models.Q(state="open"),
                name="batch_one_open_per_camera_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Batch {self.pk} {self.camera_id} {self.state}"


class Detection(models.Model):
    """One object the detection pipeline saw in one frame."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="detections")
    object_type = models.CharField(max_length=40, db_index=True)
    confidence = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    bbox_x = models.PositiveIntegerField(null=True, blank=True)
    bbox_y = models.PositiveIntegerField(null=True, blank=True)
    bbox_width = models.PositiveIntegerField(null=True, blank=True)
    bbox_height = models.PositiveIntegerField(null=True, blank=True)
    detected_at = models.DateTimeField(validators=[detected_at_plausible])
    snapshot = models.ImageField(
        upload_to="snapshots/%Y/%m/%d/", null=True, blank=True, validators=[snapshot_size_allowed]
    )
    batch = models.ForeignKey(
        DetectionBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="detections"
    )
    event = models.ForeignKey(
        "Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="detections"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [
            models.Index(fields=["camera", "-detected_at"], name="detection_camera_time"),
            models.Index(fields=["-detected_at", "-id"], name="detection_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0.0, confidence__lte=1.0),
                name="detection_confidence_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.confidence:.2f} @ {self.camera_id}"

    @property
    def bbox(self) -> dict | None:
        if self.bbox_width is None:
            return None
        return {"x": self.bbox_x, "y": self.bbox_y, "width": self.bbox_width, "height": self.bbox_height}

    def clean(self) -> None:
        parts = (self.bbox_x, self.bbox_y, self.bbox_width, self.bbox_height)
        if any(p is None for p in parts) and any(p is not None for p in parts):
            raise ValidationError("A bounding box needs x, y, width and height, or none of them.")
        if self.bbox_width is not None and (self.bbox_width < 1 or self.bbox_height < 1):
            raise ValidationError("A bounding box needs a positive width and height.")


class Event(models.Model):
    """A security event: detections of one camera grouped, scored and summarized."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="events")
    batch_id = models.CharField(max_length=64, blank=True, db_index=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    risk_score = models.PositiveSmallIntegerField(validators=[MinValueValidator(0), MaxValueValidator(100)])
    # Derived from risk_score on every save; the check constraint keeps bulk writes honest too.
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, editable=False)
    summary = models.TextField()
    reasoning = models.TextField(blank=True)
    object_types = models.JSONField(default=list, blank=True)
    detection_count = models.PositiveIntegerField(default=0)
    reviewed = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["camera", "-started_at"], name="event_camera_time"),
            models.Index(fields=["-started_at", "-id"], name="event_time"),
            models.Index(fields=["risk_score"], name="event_risk"),
            models.Index(fields=["reviewed", "-started_at"], name="event_reviewed_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(risk_score__gte=0, risk_score__lte=100), name="event_risk_0_100"
            ),
            models.CheckConstraint(condition=risk_level_constraint_q(), name="event_risk_level_matches"),
        ]

    def __str__(self) -> str:
        return f"Event {self.pk} {self.camera_id} {self.risk_level} {self.risk_score}"

    def save(self, *args, **kwargs) -> None:
        self._derive_risk_level()
        if self.risk_score is not None:
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "risk_score" in update_fields:
                kwargs["update_fields"] = {*update_fields, "risk_level"}
        super().save(*args, **kwargs)

    def _derive_risk_level(self) -> None:
        if isinstance(self.risk_score, int) and 0 <= self.risk_score <= 100:
            self.risk_level = risk_level_for(self.risk_score)

    def clean(self) -> None:
        self._derive_risk_level()  # before full_clean checks the constraints
        if self.ended_at and self.started_at and self.ended_at < self.started_at:
            raise ValidationError({"ended_at": "An event cannot end before it starts."})


class AlertRule(models.Model):
    """When an event deserves an alert: score, cameras, object types, hours, cooldown."""

    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True)
    min_risk_score = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    cameras = models.ManyToManyField(
        Camera, blank=True, related_name="alert_rules", help_text="Empty means every camera."
    )
    object_types = models.JSONField(default=list, blank=True, help_text="Empty means any object.")
    active_from = models.TimeField(null=True, blank=True, help_text="Local time; empty = always.")
    active_until = models.TimeField(null=True, blank=True)
    cooldown_seconds = models.PositiveIntegerField(default=300)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Hours are local wall-clock times in TIME_ZONE. A start after the end wraps past
        # midnight (22:00–06:00); an equal start and end mean the whole day (events/rules.py).
        both_or_neither = "Active hours need both a start and an end, or neither."
        if self.active_from is None and self.active_until is not None:
            raise ValidationError({"active_from": both_or_neither})
        if self.active_until is None and self.active_from is not None:
            raise ValidationError({"active_until": both_or_neither})


class AlertStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class Alert(models.Model):
    """An alert raised for an event by a rule; people acknowledge, resolve or dismiss it."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    severity = models.CharField(max_length=10, choices=RiskLevel.choices, db_index=True)
    status = models.CharField(
        max_length=16, choices=AlertStatus.choices, default=AlertStatus.PENDING, db_index=True
    )
    message = models.CharField(max_length=300, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="alert_status_time"),
            models.Index(fields=["-created_at", "-id"], name="alert_time"),
        ]

    def __str__(self) -> str:
        return f"Alert {self.pk} {self.severity} {self.status}"

    @property
    def camera_id(self) -> str:
        return self.event.camera_id


class JobType(models.TextChoices):
    EXPORT = "export", "Export events"
    REANALYZE = "reanalyze", "Re-analyze events"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Job(models.Model):
    """A long task (export, re-analysis) with its progress."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job_type = models.CharField(max_length=20, choices=JobType.choices)
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    params = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # While `running`: the worker running it renews this; past it, that worker is taken for dead.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"], name="job_status_time")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100), name="job_progress_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_type} {self.id} {self.status}"
