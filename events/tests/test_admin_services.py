"""The admin writes through the services: what it saves is normalized, evaluated and broadcast
exactly as through the API."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from events.models import AlertRule, Detection, Event
from events.services import detection_ingest
from events.tests.factories import make_event, make_rule
from realtime.models import OutboxMessage

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
INLINE = {"detections-TOTAL_FORMS": "0", "detections-INITIAL_FORMS": "0"}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(client, owner):
    client.force_login(owner)
    return client


def sent(*channels: str) -> list[tuple[str, int]]:
    rows = OutboxMessage.objects.filter(channel__in=channels).order_by("id")
    return [(row.event_type, row.payload.get("id")) for row in rows]


def test_an_event_added_in_the_admin_is_recorded_normalized_evaluated_and_broadcast(staff, cameras):
    rule = make_rule("Watch", min_risk_score=50)
    response = staff.post(
        reverse("admin:events_event_add"),
        {
            "camera": "front_door",
            "started_at_0": "2026-11-23",
            "started_at_1": "12:00:00",
            "risk_score": "70",
            "summary": "Seen by a neighbour",
            "reasoning": "",
            "object_types": '["person", "car", "person"]',
            **INLINE,
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    event = Event.objects.get()
    assert (event.object_types, event.risk_level) == (["car", "person"], "high")
    alert = event.alerts.get()
    assert alert.rule == rule
    assert sent("events", "alerts") == [("event.created", event.pk), ("alert.created", alert.pk)]
    assert LogEntry.objects.get().object_id == str(event.pk)


def test_an_event_changed_in_the_admin_is_broadcast_with_what_changed(staff, cameras):
    event = make_event(cameras["front_door"], 40)
    url = reverse("admin:events_event_change", args=[event.pk])
    response = staff.post(url, {"reviewed": "on", "notes": "the postman", **INLINE})
    assert response.status_code == 302
    update = OutboxMessage.objects.filter(event_type="event.updated").get()
    assert update.payload["updated_fields"] == ["notes", "reviewed"]


def test_an_alert_rule_added_and_changed_in_the_admin_goes_through_the_rule_service(staff, cameras):
    form = {
        "name": "Driveway",
        "enabled": "on",
        "min_risk_score": "30",
        "cameras": ["garage"],
        "object_types": '[" person ", "car", "person", ""]',
        "cooldown_seconds": "60",
    }
    assert staff.post(reverse("admin:events_alertrule_add"), form).status_code == 302
    rule = AlertRule.objects.get()
    # alert_rule_create trims, drops empty and de-duplicates object types; the bare form would not.
    assert rule.object_types == ["car", "person"]
    assert [c.pk for c in rule.cameras.all()] == ["garage"]

    form |= {"cameras": ["garage", "backyard"], "object_types": '["dog "]'}
    assert staff.post(reverse("admin:events_alertrule_change", args=[rule.pk]), form).status_code == 302
    rule.refresh_from_db()
    assert rule.object_types == ["dog"]
    assert sorted(c.pk for c in rule.cameras.all()) == ["backyard", "garage"]


def test_detections_are_read_only_in_the_admin(staff, cameras):
    detection = detection_ingest(
        rows=[
            {"camera": cameras["front_door"], "object_type": "person", "confidence": 0.5, "detected_at": NOW}
        ]
    )[0]
    assert staff.get(reverse("admin:events_detection_add")).status_code == 403
    url = reverse("admin:events_detection_change", args=[detection.pk])
    assert staff.get(url).status_code == 200  # viewable
    assert staff.post(url, {"object_type": "cat", "confidence": "0.1"}).status_code == 403
    assert Detection.objects.get().object_type == "person"
