"""One payload builder per model: what a dashboard needs to render without a second request.

Only JSON primitives (ids, ISO strings, numbers): the Redis layer packs with msgpack and the
outbox stores JSON.
"""

from datetime import datetime

from django.urls import reverse

from events.api.snapshots import snapshot_path
from events.selectors import event_best_snapshot_id


def iso(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 with offset, or None."""
    return value.isoformat() if value else None


def camera_payload(camera) -> dict:
    """A camera as clients show it."""
    return {
        "camera_id": camera.id,
        "camera_name": camera.name,
        "location": camera.location,
        "status": camera.status,
        "enabled": camera.enabled,
        "last_seen_at": iso(camera.last_seen_at),
    }


def detection_payload(detection) -> dict:
    """A detection as clients show it."""
    return {
        "id": detection.id,
        "camera_id": detection.camera_id,
        "object_type": detection.object_type,
        "confidence": detection.confidence,
        "bbox": detection.bbox,
        "detected_at": iso(detection.detected_at),
        "batch_id": detection.batch_id,
        "event_id": detection.event_id,
        "snapshot_url": snapshot_path(detection.pk if detection.snapshot else None),
        "created_at": iso(detection.created_at),
    }


def detection_batch_payload(batch, detection_ids: list[int]) -> dict:
    """A closed detection batch: which detections go to the analyzer together."""
    return {
        "batch_id": batch.id,
        "camera_id": batch.camera_id,
        "source_batch_id": batch.source_batch_id,
        "detection_ids": detection_ids,
        "detection_count": len(detection_ids),
        "opened_at": iso(batch.opened_at),
        "closed_at": iso(batch.closed_at),
    }


def enrichment_payload(batch, details: dict) -> dict:
    """A step of a batch's analysis; `details` holds the stage's figures (JSON primitives)."""
    return {"batch_id": batch.id, "camera_id": batch.camera_id, **details}


def event_payload(event) -> dict:
    """A security event as clients show it."""
    return {
        "id": event.id,
        "camera_id": event.camera_id,
        "camera_name": event.camera.name,
        "batch_id": event.batch_id,
        "started_at": iso(event.started_at),
        "ended_at": iso(event.ended_at),
        "risk_score": event.risk_score,
        "risk_level": event.risk_level,
        "summary": event.summary,
        "reasoning": event.reasoning,
        "object_types": list(event.object_types),
        "detection_count": event.detection_count,
        "reviewed": event.reviewed,
        "notes": event.notes,
        "best_snapshot_url": snapshot_path(event_best_snapshot_id(event)),
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }


def alert_payload(alert) -> dict:
    """An alert with the event it is about."""
    event = alert.event
    return {
        "id": alert.id,
        "event_id": alert.event_id,
        "camera_id": event.camera_id,
        "camera_name": event.camera.name,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "rule_id": alert.rule_id,
        "risk_score": event.risk_score,
        "risk_level": event.risk_level,
        "summary": event.summary,
        "started_at": iso(event.started_at),
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by else None,
        "acknowledged_at": iso(alert.acknowledged_at),
        "resolved_at": iso(alert.resolved_at),
        "dismissed_at": iso(alert.dismissed_at),
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
    }


def job_payload(job) -> dict:
    """A job's state; a finished one's result and, for an export, where to download it."""
    download = job.status == "completed" and job.job_type == "export"
    return {
        "result": job.result,
        "download_url": reverse("job-download", args=[job.pk]) if download else None,
        "job_id": str(job.id),
        "job_type": job.job_type,
        "params": job.params,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "error": job.error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }
