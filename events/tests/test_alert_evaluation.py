"""Live alert rules: every recorded event is evaluated in its transaction (threshold, cameras, object
types, active hours in TIME_ZONE, cooldown per rule and camera)."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from events.models import Alert
from events.tests.factories import make_event, make_rule
from realtime.models import OutboxMessage

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def alerted(event) -> list[str]:
    return sorted(alert.rule.name for alert in Alert.objects.filter(event=event))


def test_an_event_at_or_over_the_threshold_raises_an_alert_with_the_events_severity(cameras):
    make_rule("Serious", min_risk_score=60)
    assert alerted(make_event(cameras["front_door"], 59)) == []
    event = make_event(cameras["front_door"], 90)
    alert = Alert.objects.get(event=event)
    assert (alert.rule.name, alert.severity, alert.status) == ("Serious", "critical", "pending")


def test_a_rule_watches_only_its_cameras_and_object_types(cameras):
    make_rule("Garage people", min_risk_score=0, cameras=[cameras["garage"]], object_types=["person"])
    assert alerted(make_event(cameras["front_door"], 50, object_types=("person",))) == []
    assert alerted(make_event(cameras["garage"], 50, object_types=("car",))) == []
    assert alerted(make_event(cameras["garage"], 50, object_types=("car", "person"))) == ["Garage people"]


def test_a_disabled_rule_raises_nothing(cameras):
    make_rule("Off", min_risk_score=0, enabled=False)
    assert alerted(make_event(cameras["front_door"], 99)) == []


@pytest.mark.parametrize(
    ("local", "raised"),
    [("22:00", True), ("23:59", True), ("00:30", True), ("05:59", True), ("06:00", False), ("12:00", False)],
)
def test_active_hours_wrap_past_midnight_in_the_local_time_zone(cameras, local, raised):
    make_rule("Night", min_risk_score=0, active_from=time(22, 0), active_until=time(6, 0))
    hour, minute = map(int, local.split(":"))
    # Berlin is UTC+1 in November.
    started = datetime(2026, 11, 23, hour, minute, tzinfo=UTC) - timedelta(hours=1)
    assert alerted(make_event(cameras["front_door"], 50, started_at=started)) == (["Night"] if raised else [])


def test_the_cooldown_holds_back_a_rules_next_alert_on_the_same_camera_only(cameras, clock):
    make_rule("Cool", min_risk_score=0, cooldown_seconds=300)
    assert alerted(make_event(cameras["front_door"], 50)) == ["Cool"]
    clock.shift(timedelta(seconds=299))
    assert alerted(make_event(cameras["front_door"], 50)) == []
    assert alerted(make_event(cameras["garage"], 50)) == ["Cool"]
    clock.shift(timedelta(seconds=2))
    assert alerted(make_event(cameras["front_door"], 50)) == ["Cool"]


def test_each_matching_rule_raises_its_own_alert(cameras):
    make_rule("Any", min_risk_score=0)
    make_rule("High", min_risk_score=60)
    assert alerted(make_event(cameras["front_door"], 70)) == ["Any", "High"]


def test_an_event_posted_by_a_pipeline_is_evaluated_and_announced_before_its_alert(
    client_for, pipeline, cameras
):
    make_rule("Posted", min_risk_score=40)
    body = {
        "camera_id": "garage",
        "started_at": NOON.isoformat(),
        "risk_score": 75,
        "summary": "Car in drive",
    }
    response = client_for(pipeline).post("/api/events/", body, format="json")
    assert response.status_code == 201
    alert = Alert.objects.get(event_id=response.json()["id"])
    assert alert.severity == "high"
    messages = OutboxMessage.objects.filter(channel__in=["events", "alerts"]).order_by("id")
    assert [(m.event_type, m.payload["id"]) for m in messages] == [
        ("event.created", response.json()["id"]),
        ("alert.created", alert.pk),
    ]
