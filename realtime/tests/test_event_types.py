"""The event-type registry matches the SPEC §5 table."""

import re
from datetime import datetime, timedelta

import pytest

from realtime.event_types import (
    DURABLE_CHANNELS,
    EVENT_TYPE_METADATA,
    WebSocketEventType,
    create_event,
    get_all_channels,
    get_event_channel,
    get_event_description,
    get_required_payload_fields,
    is_durable,
    missing_payload_fields,
    validate_event_type,
)

CONTROL_TYPES = (
    "connection.established",
    "subscribed",
    "unsubscribed",
    "pong",
    "heartbeat",
    "resume.completed",
    "resume.gap",
    "resume.hint",  # issue 10: live messages were lost on the way, resume from here
    "reload.hint",  # issue 10: live messages that resume cannot replay were lost on the way
    "error",
    "batch",
)

# Copied by hand from SPEC §5, not derived from the module under test.
SPEC_TABLE = {
    "event.created": ("events", "id camera_id risk_score risk_level summary started_at"),
    "event.updated": ("events", "id updated_fields"),
    "event.deleted": ("events", "id"),
    "detection.new": ("detections", "id camera_id object_type confidence detected_at"),
    "detection.batch": ("detections", "camera_id batch_id detection_ids"),
    "alert.created": ("alerts", "id event_id severity status created_at"),
    "alert.updated": ("alerts", "id updated_at"),
    "alert.deleted": ("alerts", "id"),
    "alert.acknowledged": ("alerts", "id acknowledged_at"),
    "alert.resolved": ("alerts", "id resolved_at"),
    "alert.dismissed": ("alerts", "id dismissed_at"),
    "camera.online": ("cameras", "camera_id camera_name timestamp"),
    "camera.offline": ("cameras", "camera_id camera_name timestamp"),
    "camera.status_changed": ("cameras", "camera_id status previous_status"),
    "camera.enabled": ("cameras", "camera_id enabled_at"),
    "camera.disabled": ("cameras", "camera_id disabled_at"),
    "camera.error": ("cameras", "camera_id error timestamp"),
    "camera.config_updated": ("cameras", "camera_id updated_fields"),
    "job.started": ("jobs", "job_id job_type started_at"),
    "job.progress": ("jobs", "job_id progress status"),
    "job.completed": ("jobs", "job_id completed_at"),
    "job.failed": ("jobs", "job_id error failed_at"),
    "job.cancelled": ("jobs", "job_id cancelled_at"),
    "system.status": ("system", "gpu cameras queue health"),
    "system.health_changed": ("system", "health previous_health components"),
    "system.error": ("system", "error message timestamp"),
    "gpu.stats_updated": ("system", "utilization memory_used memory_total temperature"),
    "queue.status": ("system", "queues total_queued total_processing"),
    "pipeline.throughput": ("system", "detections_per_minute events_per_minute"),
    "enrichment.started": ("enrichment", "batch_id camera_id detection_count"),
    "enrichment.progress": ("enrichment", "batch_id progress current_step"),
    "enrichment.completed": ("enrichment", "batch_id status enriched_count"),
    "enrichment.failed": ("enrichment", "batch_id error"),
} | dict.fromkeys(CONTROL_TYPES, (None, ""))


def test_registry_holds_exactly_the_spec_types():
    assert {member.value for member in WebSocketEventType} == set(SPEC_TABLE)


def test_every_member_has_complete_metadata():
    assert set(EVENT_TYPE_METADATA) == set(WebSocketEventType)
    for meta in EVENT_TYPE_METADATA.values():
        assert set(meta) == {"description", "channel", "requires_payload", "payload_fields"}
        assert meta["description"]
        assert isinstance(meta["payload_fields"], tuple)


def test_channels_and_required_fields_match_the_spec_table():
    actual = {
        member.value: (get_event_channel(member), " ".join(get_required_payload_fields(member)))
        for member in WebSocketEventType
    }
    assert actual == SPEC_TABLE


@pytest.mark.parametrize("event_type", CONTROL_TYPES)
def test_control_types_have_no_channel_and_need_no_payload(event_type):
    assert EVENT_TYPE_METADATA[event_type]["channel"] is None
    assert EVENT_TYPE_METADATA[event_type]["requires_payload"] is False


def test_member_names_follow_the_dotted_values():
    for member in WebSocketEventType:
        assert member.name == member.value.upper().replace(".", "_")


@pytest.mark.parametrize(
    "value", ["", "event.unknown", "EVENT.CREATED", "évènement.créé", "event.created ", "\x00"]
)
def test_validate_event_type_returns_none_for_unknown_strings(value):
    assert validate_event_type(value) is None


def test_validate_event_type_returns_the_member_for_a_known_string():
    assert validate_event_type("camera.status_changed") is WebSocketEventType.CAMERA_STATUS_CHANGED


@pytest.mark.parametrize(
    "lookup", [get_event_channel, get_required_payload_fields, get_event_description, is_durable]
)
def test_lookups_raise_value_error_for_an_unknown_type(lookup):
    with pytest.raises(ValueError, match=re.escape("unknown WebSocket event type: 'event.unknown'")):
        lookup("event.unknown")


def test_lookups_accept_plain_strings_and_members_alike():
    assert (
        get_event_channel("alert.created") == get_event_channel(WebSocketEventType.ALERT_CREATED) == "alerts"
    )
    assert get_event_description("alert.created") == get_event_description(WebSocketEventType.ALERT_CREATED)


def test_only_the_five_durable_channels_are_durable():
    assert frozenset({"events", "detections", "alerts", "cameras", "jobs"}) == DURABLE_CHANNELS
    durable = {member.value for member in WebSocketEventType if is_durable(member)}
    assert durable == {t for t, (channel, _) in SPEC_TABLE.items() if channel in DURABLE_CHANNELS}
    assert not is_durable("system.status")
    assert not is_durable("heartbeat")


def test_missing_payload_fields_lists_absent_required_fields_in_order():
    assert missing_payload_fields("camera.enabled", {"camera_id": "front_door"}) == ("enabled_at",)
    assert missing_payload_fields("event.deleted", {"id": 3, "extra": 1}) == ()
    assert missing_payload_fields("job.failed", None) == ("job_id", "error", "failed_at")
    assert missing_payload_fields("pong", {}) == ()


def test_create_event_has_exactly_the_envelope_keys_and_registry_channel():
    payload = {"id": 1, "dismissed_at": "2026-01-01T00:00:00+00:00"}
    event = create_event(WebSocketEventType.ALERT_DISMISSED, payload)
    assert set(event) == {"type", "payload", "timestamp", "correlation_id", "channel"}
    assert event["type"] == "alert.dismissed"
    assert type(event["type"]) is str
    assert event["payload"] == payload
    assert event["payload"] is not payload
    assert event["correlation_id"] is None
    assert event["channel"] == "alerts"


def test_create_event_timestamp_is_iso_8601_in_utc_with_microseconds():
    timestamp = create_event("heartbeat", {"last_sequence": 0})["timestamp"]
    parsed = datetime.fromisoformat(timestamp)
    assert parsed.utcoffset() == timedelta(0)
    assert timestamp.endswith("+00:00")
    assert len(timestamp.split(".")[1]) == len("123456+00:00")


def test_create_event_keeps_correlation_id_and_channel_override():
    event = create_event("pong", None, correlation_id="req-7", channel="system")
    assert event["correlation_id"] == "req-7"
    assert event["channel"] == "system"
    assert event["payload"] == {}
    assert create_event("pong", {})["channel"] is None


def test_create_event_rejects_an_unknown_type():
    with pytest.raises(ValueError, match="unknown WebSocket event type"):
        create_event("event.unknown", {})


def test_get_all_channels_lists_the_seven_non_control_channels():
    assert get_all_channels() == sorted(
        ["events", "detections", "alerts", "cameras", "jobs", "system", "enrichment"]
    )
