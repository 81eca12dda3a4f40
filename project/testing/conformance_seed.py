"""Data for the API conformance run: the demo household with an object of every kind and state.

Run in a server's database through `manage.py shell`. It first deletes what an earlier run
created, changed or deleted, so that every run starts from the same objects.
"""

import io
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token

from cameras.models import Camera
from events.demo import demo_household_seed
from events.jobs import job_export_save
from events.models import Alert, AlertRule, Detection, Event, Job, JobType
from events.services import (
    alert_acknowledge,
    alert_raise,
    detection_ingest,
    event_record,
    job_create,
)


def _png() -> ContentFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name="snapshot.png")


@transaction.atomic
def conformance_data_seed() -> dict[str, str]:
    """Reset and seed the data; the API token of the staff user ("staff") and of the viewer ("viewer")."""
    for model in (Job, Alert, Event, Detection, AlertRule, Camera):
        model.objects.all().delete()
    demo = demo_household_seed(admin_password="conformance-admin", viewer_password="conformance-viewer")
    cameras = {camera.pk: camera for camera in Camera.objects.all()}
    users = get_user_model().objects
    admin, viewer = (users.get(username=demo[role]["username"]) for role in ("admin", "viewer"))
    rule = AlertRule.objects.order_by("pk").first()
    now = timezone.now()
    # A visible camera (front_door), one visible through the viewer's group (driveway), a hidden one.
    for offset, slug in enumerate(["front_door", "driveway", "backyard"]):
        started = now - timedelta(minutes=offset + 1)  # within DETECTION_CLOCK_SKEW_SECONDS
        detections = detection_ingest(
            rows=[
                {
                    "camera": cameras[slug],
                    "object_type": "person",
                    "confidence": 0.9,
                    "detected_at": started,
                    "bbox": {"x": 1, "y": 2, "width": 30, "height": 40},
                    "snapshot": _png(),
                    "batch_id": f"batch-{slug}",
                },
                {"camera": cameras[slug], "object_type": "car", "confidence": 0.5, "detected_at": started},
            ]
        )
        for risk_score in (80, 20):
            event = event_record(
                camera=cameras[slug],
                started_at=started,
                ended_at=started + timedelta(minutes=1),
                risk_score=risk_score,
                summary=f"Person at the {slug}",
                object_types=["person", "car"],
                detection_count=len(detections),
                batch_id=f"batch-{slug}",
                detections=detections,
            )
            alert = alert_raise(event=event, rule=rule, message="Seeded")
            alert_raise(event=event, rule=None)
        alert_acknowledge(alert=alert, user=admin)
    for user in (admin, viewer):
        job_create(job_type=JobType.EXPORT, params={"format": "csv"}, user=user)
        for export_format, content in [("csv", b"id\n"), ("json", b"[]")]:
            done = job_create(job_type=JobType.EXPORT, params={"format": export_format}, user=user)
            job_export_save(job=done, content=content, export_format=export_format, count=0)
    # A job whose creator was deleted.
    job_create(job_type=JobType.EXPORT, params={"format": "csv", "min_risk_score": 50}, user=None)
    job_create(
        job_type=JobType.REANALYZE,
        params={"started_after": (now - timedelta(days=1)).isoformat(), "started_before": now.isoformat()},
        user=admin,
    )
    return {
        role: Token.objects.get_or_create(user=user)[0].key
        for role, user in [("staff", admin), ("viewer", viewer)]
    }
