"""Alerts API: who sees which alert, filters, the payload, and every status transition."""

import pytest
from rest_framework.test import APIClient

from events.models import Alert, AlertStatus
from events.services import alert_acknowledge
from events.tests.factories import make_alert, make_rule

URL = "/api/alerts/"


@pytest.fixture
def alerts(cameras):
    """One pending alert per camera: front_door (viewer), garage (viewer's group), backyard (hidden)."""
    rule = make_rule("High risk", min_risk_score=60)
    return {slug: make_alert(camera, 70, rule=rule) for slug, camera in cameras.items()}


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


def snapshot(alert: Alert) -> tuple:
    alert.refresh_from_db()
    return (
        alert.status,
        alert.acknowledged_at,
        alert.acknowledged_by_id,
        alert.resolved_at,
        alert.dismissed_at,
        alert.updated_at,
    )


def test_anonymous_cannot_list_or_act(alerts):
    client = APIClient()
    assert client.get(URL).status_code == 401
    assert client.post(f"{URL}{alerts['front_door'].pk}/acknowledge/").status_code == 401
    assert Alert.objects.filter(status=AlertStatus.PENDING).count() == 3


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("owner", {"front_door", "garage", "backyard"}),
        ("viewer", {"front_door", "garage"}),
        ("stranger", set()),
    ],
)
def test_each_user_lists_only_alerts_of_cameras_they_may_see(request, client_for, alerts, who, visible):
    response = client_for(request.getfixturevalue(who)).get(URL)
    assert response.status_code == 200
    assert ids(response) == {alerts[slug].pk for slug in visible}


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("viewer", 404), ("stranger", 404)])
def test_an_alert_on_a_hidden_camera_is_not_found(request, client_for, alerts, who, status):
    response = client_for(request.getfixturevalue(who)).get(f"{URL}{alerts['backyard'].pk}/")
    assert response.status_code == status


def test_alert_payload_carries_rule_event_summary_and_who_acknowledged(client_for, owner, viewer, alerts):
    alert = alerts["front_door"]
    alert_acknowledge(alert=alert, user=owner)
    body = client_for(viewer).get(f"{URL}{alert.pk}/").json()
    alert.refresh_from_db()
    event = alert.event
    assert body["id"] == alert.pk
    assert body["event_id"] == event.pk
    assert body["camera_id"] == "front_door"
    assert body["severity"] == "high"
    assert body["status"] == "acknowledged"
    assert body["message"] == "High risk: Someone at the door"
    assert body["rule"] == {"id": alert.rule_id, "name": "High risk"}
    assert body["acknowledged_by"] == "owner"
    assert body["acknowledged_at"] is not None
    assert body["resolved_at"] is None
    assert body["dismissed_at"] is None
    assert body["event"] == {
        "id": event.pk,
        "risk_score": 70,
        "risk_level": "high",
        "summary": "Someone at the door",
        "started_at": event.started_at.isoformat().replace("+00:00", "Z"),
    }
    assert {"created_at", "updated_at"} <= body.keys()


def test_alert_without_rule_shows_null_rule(client_for, owner, cameras):
    alert = make_alert(cameras["garage"], 40)
    body = client_for(owner).get(f"{URL}{alert.pk}/").json()
    assert body["rule"] is None
    assert body["severity"] == "medium"


def test_filter_by_status(client_for, owner, alerts):
    alert_acknowledge(alert=alerts["garage"], user=owner)
    client = client_for(owner)
    assert ids(client.get(URL, {"status": "acknowledged"})) == {alerts["garage"].pk}
    assert ids(client.get(URL, {"status": "pending"})) == {alerts["front_door"].pk, alerts["backyard"].pk}


def test_filter_by_severity(client_for, owner, cameras, alerts):
    critical = make_alert(cameras["garage"], 90)
    client = client_for(owner)
    assert ids(client.get(URL, {"severity": "critical"})) == {critical.pk}
    assert len(ids(client.get(URL, {"severity": "high"}))) == 3


def test_filter_by_camera_stays_within_what_the_user_may_see(client_for, owner, viewer, alerts):
    assert ids(client_for(owner).get(URL, {"camera": "backyard"})) == {alerts["backyard"].pk}
    assert ids(client_for(viewer).get(URL, {"camera": "backyard"})) == set()
    assert ids(client_for(viewer).get(URL, {"camera": "garage"})) == {alerts["garage"].pk}


@pytest.mark.parametrize("params", [{"status": "open"}, {"severity": "extreme"}])
def test_unknown_filter_value_is_a_400(client_for, owner, alerts, params):
    response = client_for(owner).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_list_is_cursor_paginated_newest_first(client_for, owner, alerts):
    client = client_for(owner)
    first = client.get(URL, {"page_size": 2}).json()
    assert [row["id"] for row in first["results"]] == [alerts["backyard"].pk, alerts["garage"].pk]
    assert "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [alerts["front_door"].pk]
    assert second["next"] is None


def test_list_costs_the_same_queries_for_many_alerts(
    client_for, owner, viewer, cameras, django_assert_max_num_queries
):
    rule = make_rule("Any", min_risk_score=0)
    for _ in range(4):
        for camera in cameras.values():
            alert_acknowledge(alert=make_alert(camera, 65, rule=rule), user=owner)
    for user in (owner, viewer):
        client = client_for(user)
        with django_assert_max_num_queries(1):
            response = client.get(URL)
        assert len(response.json()["results"]) == (12 if user is owner else 8)


@pytest.mark.parametrize(
    ("action", "status", "stamp"),
    [
        ("acknowledge", "acknowledged", "acknowledged_at"),
        ("resolve", "resolved", "resolved_at"),
        ("dismiss", "dismissed", "dismissed_at"),
    ],
)
def test_a_pending_alert_can_be_moved_by_a_viewer_who_sees_it(
    client_for, viewer, alerts, action, status, stamp
):
    alert = alerts["front_door"]
    response = client_for(viewer).post(f"{URL}{alert.pk}/{action}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == status
    assert body[stamp] is not None
    alert.refresh_from_db()
    assert alert.status == status
    assert getattr(alert, f"{status}_by") == viewer


def test_an_acknowledged_alert_can_then_be_resolved(client_for, owner, alerts):
    alert = alerts["garage"]
    client = client_for(owner)
    assert client.post(f"{URL}{alert.pk}/acknowledge/").status_code == 200
    response = client.post(f"{URL}{alert.pk}/resolve/")
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["acknowledged_by"] == "owner"
    assert response.json()["resolved_by"] == "owner"


@pytest.mark.parametrize(
    ("start", "action", "target"),
    [
        (AlertStatus.ACKNOWLEDGED, "acknowledge", "acknowledged"),
        (AlertStatus.RESOLVED, "acknowledge", "acknowledged"),
        (AlertStatus.DISMISSED, "acknowledge", "acknowledged"),
        (AlertStatus.RESOLVED, "resolve", "resolved"),
        (AlertStatus.DISMISSED, "resolve", "resolved"),
        (AlertStatus.RESOLVED, "dismiss", "dismissed"),
        (AlertStatus.DISMISSED, "dismiss", "dismissed"),
    ],
)
def test_a_forbidden_transition_is_a_409_and_changes_nothing(
    client_for, owner, cameras, start, action, target
):
    alert = make_alert(cameras["front_door"], status=start)
    before = snapshot(alert)
    response = client_for(owner).post(f"{URL}{alert.pk}/{action}/")
    assert response.status_code == 409
    assert response.json()["detail"] == f"Alert {alert.pk}: cannot move an alert from {start} to {target}."
    assert snapshot(alert) == before


@pytest.mark.parametrize("who", ["viewer", "stranger"])
@pytest.mark.parametrize("action", ["acknowledge", "resolve", "dismiss"])
def test_acting_on_a_hidden_alert_is_a_404_and_changes_nothing(request, client_for, alerts, who, action):
    alert = alerts["backyard"]
    before = snapshot(alert)
    response = client_for(request.getfixturevalue(who)).post(f"{URL}{alert.pk}/{action}/")
    assert response.status_code == 404
    assert snapshot(alert) == before


def test_alerts_are_read_only_through_the_api(client_for, owner, alerts):
    client = client_for(owner)
    alert = alerts["front_door"]
    assert client.post(URL, {"event": alert.event_id}).status_code == 405
    assert client.patch(f"{URL}{alert.pk}/", {"status": "resolved"}).status_code == 405
    assert client.delete(f"{URL}{alert.pk}/").status_code == 405
    assert client.get(f"{URL}{alert.pk}/acknowledge/").status_code == 405
    assert snapshot(alert)[0] == AlertStatus.PENDING
    assert Alert.objects.count() == 3
