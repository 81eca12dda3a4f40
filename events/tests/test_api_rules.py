"""Alert rules API: staff only, validation, CRUD through the services, and the dry run."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import AlertRule
from events.rules import active_at
from events.tests.factories import make_event, make_rule

URL = "/api/alert-rules/"
VALID = {
    "name": "Person at night",
    "min_risk_score": 30,
    "cameras": ["front_door", "garage"],
    "object_types": ["person"],
    "active_from": "22:00",
    "active_until": "06:00",
    "cooldown_seconds": 600,
}


@pytest.fixture
def rule(cameras):
    return make_rule("Garage cars", min_risk_score=40, cameras=[cameras["garage"]], object_types=["car"])


def endpoints(rule_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", URL, None),
        ("post", URL, VALID),
        ("get", f"{URL}{rule_id}/", None),
        ("patch", f"{URL}{rule_id}/", {"name": "Renamed"}),
        ("put", f"{URL}{rule_id}/", VALID),
        ("delete", f"{URL}{rule_id}/", None),
        ("post", f"{URL}{rule_id}/test/", None),
    ]


@pytest.mark.parametrize("who", ["anonymous", "viewer", "stranger", "pipeline"])
def test_only_staff_may_touch_alert_rules(request, client_for, rule, who):
    client = APIClient() if who == "anonymous" else client_for(request.getfixturevalue(who))
    for method, url, data in endpoints(rule.pk):
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == (401 if who == "anonymous" else 403), (method, url)
    rule.refresh_from_db()
    assert rule.name == "Garage cars"
    assert AlertRule.objects.count() == 1


def test_staff_lists_rules_by_name_with_camera_ids(client_for, owner, rule):
    make_rule("Anything high", min_risk_score=60)
    body = client_for(owner).get(URL).json()
    assert [row["name"] for row in body["results"]] == ["Anything high", "Garage cars"]
    garage = body["results"][1]
    assert garage == {
        "id": rule.pk,
        "name": "Garage cars",
        "enabled": True,
        "min_risk_score": 40,
        "cameras": ["garage"],
        "object_types": ["car"],
        "active_from": None,
        "active_until": None,
        "cooldown_seconds": 300,
        "created_at": garage["created_at"],
        "updated_at": garage["updated_at"],
    }


def test_list_of_rules_does_not_query_per_rule(client_for, owner, cameras, django_assert_max_num_queries):
    for n in range(6):
        make_rule(f"Rule {n}", cameras=list(cameras.values()))
    client = client_for(owner)
    with django_assert_max_num_queries(2):
        response = client.get(URL)
    assert len(response.json()["results"]) == 6


def test_staff_creates_a_rule(client_for, owner, cameras):
    response = client_for(owner).post(URL, VALID, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["cameras"] == ["front_door", "garage"]
    assert body["active_from"] == "22:00:00"
    assert body["active_until"] == "06:00:00"
    rule = AlertRule.objects.get(pk=body["id"])
    assert rule.name == "Person at night"
    assert rule.object_types == ["person"]
    assert rule.cooldown_seconds == 600
    assert set(rule.cameras.values_list("id", flat=True)) == {"front_door", "garage"}


def test_a_minimal_rule_applies_to_every_camera_and_object(client_for, owner, db):
    response = client_for(owner).post(URL, {"name": "Everything"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["cameras"], body["object_types"], body["min_risk_score"]) == ([], [], 60)


def test_staff_updates_and_deletes_a_rule(client_for, owner, cameras, rule):
    client = client_for(owner)
    response = client.patch(f"{URL}{rule.pk}/", {"min_risk_score": 85, "cameras": []}, format="json")
    assert response.status_code == 200
    assert (response.json()["min_risk_score"], response.json()["cameras"]) == (85, [])
    rule.refresh_from_db()
    assert rule.min_risk_score == 85
    assert rule.cameras.count() == 0
    assert rule.object_types == ["car"]

    response = client.patch(f"{URL}{rule.pk}/", {"enabled": False}, format="json")
    rule.refresh_from_db()
    assert (response.status_code, rule.enabled, rule.min_risk_score) == (200, False, 85)

    assert client.delete(f"{URL}{rule.pk}/").status_code == 204
    assert not AlertRule.objects.exists()


def test_unknown_rule_is_a_404(client_for, owner, db):
    assert client_for(owner).get(f"{URL}999/").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"min_risk_score": -1}, "min_risk_score"),
        ({"min_risk_score": 101}, "min_risk_score"),
        ({"min_risk_score": "high"}, "min_risk_score"),
        ({"cameras": ["front_door", "attic"]}, "cameras"),
        ({"cameras": "front_door"}, "cameras"),
        ({"object_types": "person"}, "object_types"),
        ({"object_types": [""]}, "object_types"),
        ({"active_until": None}, "active_until"),
        ({"active_from": None}, "active_from"),
        ({"active_until": "06:00Z"}, "active_until"),
        ({"active_from": "22:00:00+02:00"}, "active_from"),
        ({"active_from": "25:00"}, "active_from"),
        ({"cooldown_seconds": -5}, "cooldown_seconds"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_bad_rule_is_a_400_with_the_field_and_stores_nothing(client_for, owner, cameras, rule, change, field):
    client = client_for(owner)
    response = client.post(URL, {**VALID, **change}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert AlertRule.objects.count() == 1

    response = client.put(f"{URL}{rule.pk}/", {**VALID, **change}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    rule.refresh_from_db()
    assert (rule.name, rule.min_risk_score, rule.active_from) == ("Garage cars", 40, None)
    assert list(rule.cameras.values_list("id", flat=True)) == ["garage"]


def test_patching_only_one_active_hour_onto_a_rule_without_hours_is_a_400(client_for, owner, rule):
    response = client_for(owner).patch(f"{URL}{rule.pk}/", {"active_from": "22:00"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["active_until"]
    rule.refresh_from_db()
    assert rule.active_from is None


def test_a_time_with_an_offset_is_refused_as_hours_are_local_times(client_for, owner, settings, cameras):
    settings.TIME_ZONE = "Europe/Berlin"
    response = client_for(owner).post(URL, {**VALID, "active_from": "07:36:57Z"}, format="json")
    assert response.json() == {
        "active_from": [
            "Active hours are local wall-clock times in TIME_ZONE (Europe/Berlin): "
            "give the time without an offset, e.g. 22:00."
        ]
    }
    assert AlertRule.objects.count() == 0


def test_equal_start_and_end_hours_mean_the_whole_day(client_for, owner, cameras):
    response = client_for(owner).post(
        URL, {**VALID, "active_from": "08:00", "active_until": "08:00"}, format="json"
    )
    assert response.status_code == 201
    rule = AlertRule.objects.get()
    for hour in (0, 7, 8, 23):
        at = timezone.make_aware(datetime(2026, 11, 23, hour, 30))
        assert active_at(rule=rule, at=at), hour


def test_a_rule_active_all_day_by_equal_hours_can_be_patched(client_for, owner, db):
    rule = make_rule("All day", active_from=time(8), active_until=time(8))
    response = client_for(owner).patch(f"{URL}{rule.pk}/", {"name": "Around the clock"}, format="json")
    assert (response.status_code, response.json()["active_until"]) == (200, "08:00:00")
    rule.refresh_from_db()
    assert rule.name == "Around the clock"


def test_missing_name_is_a_400(client_for, owner, db):
    response = client_for(owner).post(URL, {"min_risk_score": 10}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert AlertRule.objects.count() == 0


def test_dry_run_counts_past_events_of_the_last_seven_days(client_for, owner, cameras, rule):
    now = timezone.now()
    hit = make_event(cameras["garage"], 50, started_at=now - timedelta(days=2), object_types=("car",))
    make_event(cameras["garage"], 30, started_at=now - timedelta(days=1), object_types=("car",))
    make_event(cameras["front_door"], 90, started_at=now - timedelta(hours=1), object_types=("car",))
    make_event(cameras["garage"], 90, started_at=now - timedelta(days=8), object_types=("car",))
    response = client_for(owner).post(f"{URL}{rule.pk}/test/")
    assert response.status_code == 200
    body = response.json()
    assert (body["days"], body["events_tested"], body["events_matched"]) == (7, 3, 1)
    assert body["matched_event_ids"] == [hit.pk]


def test_dry_run_looks_back_as_many_days_as_asked(client_for, owner, cameras, rule):
    old = make_event(
        cameras["garage"], 90, started_at=timezone.now() - timedelta(days=8), object_types=("car",)
    )
    body = client_for(owner).post(f"{URL}{rule.pk}/test/?days=10").json()
    assert (body["days"], body["events_tested"], body["matched_event_ids"]) == (10, 1, [old.pk])


@pytest.mark.parametrize("days", ["0", "-3", "seven", "366", "2.5"])
def test_dry_run_rejects_a_bad_days_value(client_for, owner, rule, days):
    response = client_for(owner).post(f"{URL}{rule.pk}/test/?days={days}")
    assert response.status_code == 400
    assert list(response.json()) == ["days"]


def test_dry_run_of_an_unknown_rule_is_a_404(client_for, owner, db):
    assert client_for(owner).post(f"{URL}999/test/").status_code == 404
