"""The WebSocket event-type registry (SPEC §5): every type, its channel and its required payload fields."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict


class WebSocketEventType(StrEnum):
    """Every message type the server sends over a WebSocket, named `{domain}.{action}`."""

    EVENT_CREATED = "event.created"
    EVENT_UPDATED = "event.updated"
    EVENT_DELETED = "event.deleted"
    DETECTION_NEW = "detection.new"
    DETECTION_BATCH = "detection.batch"
    ALERT_CREATED = "alert.created"
    ALERT_UPDATED = "alert.updated"
    ALERT_DELETED = "alert.deleted"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_RESOLVED = "alert.resolved"
    ALERT_DISMISSED = "alert.dismissed"
    CAMERA_ONLINE = "camera.online"
    CAMERA_OFFLINE = "camera.offline"
    CAMERA_STATUS_CHANGED = "camera.status_changed"
    CAMERA_ENABLED = "camera.enabled"
    CAMERA_DISABLED = "camera.disabled"
    CAMERA_ERROR = "camera.error"
    CAMERA_CONFIG_UPDATED = "camera.config_updated"
    JOB_STARTED = "job.started"
    JOB_PROGRESS = "job.progress"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    SYSTEM_STATUS = "system.status"
    SYSTEM_HEALTH_CHANGED = "system.health_changed"
    SYSTEM_ERROR = "system.error"
    GPU_STATS_UPDATED = "gpu.stats_updated"
    QUEUE_STATUS = "queue.status"
    PIPELINE_THROUGHPUT = "pipeline.throughput"
    ENRICHMENT_STARTED = "enrichment.started"
    ENRICHMENT_PROGRESS = "enrichment.progress"
    ENRICHMENT_COMPLETED = "enrichment.completed"
    ENRICHMENT_FAILED = "enrichment.failed"
    CONNECTION_ESTABLISHED = "connection.established"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PONG = "pong"
    HEARTBEAT = "heartbeat"
    RESUME_COMPLETED = "resume.completed"
    RESUME_GAP = "resume.gap"
    RESUME_HINT = "resume.hint"
    RELOAD_HINT = "reload.hint"
    ERROR = "error"
    BATCH = "batch"


class EventTypeMetadata(TypedDict):
    """What the registry knows about one event type."""

    description: str
    channel: str | None
    requires_payload: bool
    payload_fields: tuple[str, ...]


DURABLE_CHANNELS: frozenset[str] = frozenset({"events", "detections", "alerts", "cameras", "jobs"})

_T = WebSocketEventType

# (type, channel, required payload fields, description); channel None marks a control message.
_REGISTRY: tuple[tuple[WebSocketEventType, str | None, tuple[str, ...], str], ...] = (
    (
        _T.EVENT_CREATED,
        "events",
        ("id", "camera_id", "risk_score", "risk_level", "summary", "started_at"),
        "A security event was recorded",
    ),
    (_T.EVENT_UPDATED, "events", ("id", "updated_fields"), "A security event was changed"),
    (_T.EVENT_DELETED, "events", ("id",), "A security event was deleted"),
    (
        _T.DETECTION_NEW,
        "detections",
        ("id", "camera_id", "object_type", "confidence", "detected_at"),
        "A detection arrived from the pipeline",
    ),
    (
        _T.DETECTION_BATCH,
        "detections",
        ("camera_id", "batch_id", "detection_ids"),
        "A camera's detection batch closed",
    ),
    (
        _T.ALERT_CREATED,
        "alerts",
        ("id", "event_id", "severity", "status", "created_at"),
        "An alert rule raised an alert",
    ),
    (_T.ALERT_UPDATED, "alerts", ("id", "updated_at"), "An alert was changed"),
    (_T.ALERT_DELETED, "alerts", ("id",), "An alert was deleted"),
    (_T.ALERT_ACKNOWLEDGED, "alerts", ("id", "acknowledged_at"), "An alert was acknowledged"),
    (_T.ALERT_RESOLVED, "alerts", ("id", "resolved_at"), "An alert was resolved"),
    (_T.ALERT_DISMISSED, "alerts", ("id", "dismissed_at"), "An alert was dismissed"),
    (_T.CAMERA_ONLINE, "cameras", ("camera_id", "camera_name", "timestamp"), "A camera came online"),
    (_T.CAMERA_OFFLINE, "cameras", ("camera_id", "camera_name", "timestamp"), "A camera went offline"),
    (
        _T.CAMERA_STATUS_CHANGED,
        "cameras",
        ("camera_id", "status", "previous_status"),
        "A camera's status changed",
    ),
    (_T.CAMERA_ENABLED, "cameras", ("camera_id", "enabled_at"), "A camera was enabled"),
    (_T.CAMERA_DISABLED, "cameras", ("camera_id", "disabled_at"), "A camera was disabled"),
    (_T.CAMERA_ERROR, "cameras", ("camera_id", "error", "timestamp"), "A camera reported an error"),
    (
        _T.CAMERA_CONFIG_UPDATED,
        "cameras",
        ("camera_id", "updated_fields"),
        "A camera's configuration was changed",
    ),
    (_T.JOB_STARTED, "jobs", ("job_id", "job_type", "started_at"), "A background job started"),
    (_T.JOB_PROGRESS, "jobs", ("job_id", "progress", "status"), "A background job moved on by 10 %"),
    (_T.JOB_COMPLETED, "jobs", ("job_id", "completed_at"), "A background job completed"),
    (_T.JOB_FAILED, "jobs", ("job_id", "error", "failed_at"), "A background job failed"),
    (_T.JOB_CANCELLED, "jobs", ("job_id", "cancelled_at"), "A background job was cancelled"),
    (_T.SYSTEM_STATUS, "system", ("gpu", "cameras", "queue", "health"), "Periodic system status"),
    (
        _T.SYSTEM_HEALTH_CHANGED,
        "system",
        ("health", "previous_health", "components"),
        "Overall system health changed",
    ),
    (_T.SYSTEM_ERROR, "system", ("error", "message", "timestamp"), "A system component failed"),
    (
        _T.GPU_STATS_UPDATED,
        "system",
        ("utilization", "memory_used", "memory_total", "temperature"),
        "Periodic GPU figures (null without a GPU)",
    ),
    (
        _T.QUEUE_STATUS,
        "system",
        ("queues", "total_queued", "total_processing"),
        "Periodic work-queue depths",
    ),
    (
        _T.PIPELINE_THROUGHPUT,
        "system",
        ("detections_per_minute", "events_per_minute"),
        "Periodic pipeline throughput",
    ),
    (
        _T.ENRICHMENT_STARTED,
        "enrichment",
        ("batch_id", "camera_id", "detection_count"),
        "The analyzer started on a detection batch",
    ),
    (
        _T.ENRICHMENT_PROGRESS,
        "enrichment",
        ("batch_id", "progress", "current_step"),
        "The analyzer moved on a step",
    ),
    (
        _T.ENRICHMENT_COMPLETED,
        "enrichment",
        ("batch_id", "status", "enriched_count"),
        "The analyzer finished a detection batch",
    ),
    (_T.ENRICHMENT_FAILED, "enrichment", ("batch_id", "error"), "The analyzer failed on a detection batch"),
    (_T.CONNECTION_ESTABLISHED, None, (), "The socket was accepted"),
    (_T.SUBSCRIBED, None, (), "Answer to subscribe"),
    (_T.UNSUBSCRIBED, None, (), "Answer to unsubscribe"),
    (_T.PONG, None, (), "Answer to ping"),
    (_T.HEARTBEAT, None, (), "Periodic keep-alive carrying the last sequence"),
    (_T.RESUME_COMPLETED, None, (), "Replay after resume finished"),
    (_T.RESUME_GAP, None, (), "Resume asked for history that is no longer kept"),
    (_T.RESUME_HINT, None, (), "Live messages were lost on the way: resume from the sequence given"),
    (_T.RELOAD_HINT, None, (), "Live messages that resume cannot replay were lost: reload what they showed"),
    (_T.ERROR, None, (), "The client sent something invalid"),
    (_T.BATCH, None, (), "Several envelopes of one channel coalesced into one frame"),
)

EVENT_TYPE_METADATA: dict[WebSocketEventType, EventTypeMetadata] = {
    event_type: {
        "description": description,
        "channel": channel,
        "requires_payload": channel is not None,
        "payload_fields": fields,
    }
    for event_type, channel, fields, description in _REGISTRY
}

_ALL_CHANNELS: tuple[str, ...] = tuple(
    sorted({meta["channel"] for meta in EVENT_TYPE_METADATA.values() if meta["channel"] is not None})
)


def validate_event_type(value: str) -> WebSocketEventType | None:
    """Return the member for a type string, or None when the string is not a known type."""
    if not isinstance(value, str):
        return None
    try:
        return WebSocketEventType(value)
    except ValueError:
        return None


def _metadata(event_type: WebSocketEventType | str) -> EventTypeMetadata:
    member = validate_event_type(event_type)
    if member is None:
        raise ValueError(f"unknown WebSocket event type: {event_type!r}")
    return EVENT_TYPE_METADATA[member]


def get_event_channel(event_type: WebSocketEventType | str) -> str | None:
    """Return the channel a type is broadcast on, or None for a control message."""
    return _metadata(event_type)["channel"]


def get_required_payload_fields(event_type: WebSocketEventType | str) -> tuple[str, ...]:
    """Return the payload fields a type must carry."""
    return _metadata(event_type)["payload_fields"]


def get_event_description(event_type: WebSocketEventType | str) -> str:
    """Return the human description of a type."""
    return _metadata(event_type)["description"]


def is_durable(event_type: WebSocketEventType | str) -> bool:
    """Tell whether a type is sequenced and kept for resume (its channel is durable)."""
    return _metadata(event_type)["channel"] in DURABLE_CHANNELS


def missing_payload_fields(
    event_type: WebSocketEventType | str, payload: Mapping[str, Any] | None
) -> tuple[str, ...]:
    """Return the required payload fields of a type that the payload lacks, in registry order."""
    present = payload or {}
    return tuple(field for field in get_required_payload_fields(event_type) if field not in present)


def get_all_channels() -> list[str]:
    """Return the sorted names of all non-control channels."""
    return list(_ALL_CHANNELS)


def create_event(
    event_type: WebSocketEventType | str,
    payload: Mapping[str, Any] | None,
    *,
    correlation_id: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """Build an event dict for a type; the payload is not checked (see missing_payload_fields)."""
    meta = _metadata(event_type)
    return {
        # Plain str, not the enum member: the msgpack channel layer and orjson want primitives.
        "type": WebSocketEventType(event_type).value,
        "payload": dict(payload or {}),
        "timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
        "correlation_id": correlation_id,
        "channel": channel if channel is not None else meta["channel"],
    }
