"""seed_demo: a demo household, created once, with credentials that work and are printed."""

import io
from datetime import UTC, datetime, time

import pytest
import time_machine
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from cameras.models import Camera
from cameras.visibility import cameras_visible_to
from events.demo import demo_household_seed
from events.models import Alert, AlertRule
from events.rules import alert_rule_create

pytestmark = pytest.mark.django_db

NIGHT = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "cameras": Camera.objects.count(),
        "users": get_user_model().objects.count(),
        "groups": Group.objects.count(),
        "tokens": Token.objects.count(),
        "rules": AlertRule.objects.count(),
    }


def test_seed_creates_the_household():
    seed()
    users = get_user_model().objects
    admin, viewer, pipeline = (
        users.get(username="admin"),
        users.get(username="viewer"),
        users.get(username="pipeline"),
    )
    assert counts() == {"cameras": 5, "users": 3, "groups": 1, "tokens": 1, "rules": 2}
    assert set(Camera.objects.values_list("id", flat=True)) == {
        "front_door",
        "driveway",
        "backyard",
        "garage",
        "living_room",
    }
    assert Camera.objects.get(pk="living_room").name == "Living room"
    assert (admin.is_staff, admin.is_superuser, admin.check_password("lookout-admin")) == (True, True, True)
    assert (viewer.is_staff, viewer.check_password("lookout-viewer")) == (False, True)
    assert set(cameras_visible_to(viewer).values_list("id", flat=True)) == {"front_door", "driveway"}
    assert list(viewer.groups.values_list("name", flat=True)) == ["family"]
    assert list(Camera.objects.get(pk="driveway").viewer_groups.values_list("name", flat=True)) == ["family"]
    assert not pipeline.has_usable_password()
    assert pipeline.has_perms(["events.add_detection", "events.add_event", "cameras.send_heartbeat"])
    assert not pipeline.has_perm("events.delete_event")


def test_seed_creates_the_demo_alert_rules():
    seed()
    assert AlertRule.objects.get(name="High risk anywhere").min_risk_score == 60
    assert list(
        AlertRule.objects.get(name="Vehicle in the driveway").cameras.values_list("id", flat=True)
    ) == ["driveway"]


def intruder_alerts(client_for) -> list[str]:
    """Post a critical night event with people at the garage, as the pipeline; the names of the rules
    that alerted on it."""
    body = {
        "camera_id": "garage",
        "started_at": NIGHT.isoformat(),
        "risk_score": 92,
        "summary": "3 people at Garage at 23:30",
        "object_types": ["person"],
    }
    with time_machine.travel(NIGHT):
        response = client_for(get_user_model().objects.get(username="pipeline")).post(
            "/api/events/", body, format="json"
        )
    assert response.status_code == 201
    return [alert.rule.name for alert in Alert.objects.filter(event_id=response.json()["id"])]


def test_a_critical_night_event_raises_one_alert_however_often_the_demo_was_seeded(client_for, settings):
    settings.TIME_ZONE = "UTC"
    seed()
    seed()
    assert intruder_alerts(client_for) == ["High risk anywhere"]


# The rule earlier demos seeded beside "High risk anywhere" (written out: the test must not follow
# a change of events.demo).
EARLIER_NIGHT_RULE = {
    "name": "Person at night",
    "min_risk_score": 30,
    "object_types": ["person"],
    "active_from": time(22, 0),
    "active_until": time(6, 0),
}


def test_reseeding_an_earlier_demo_database_drops_its_second_rule_for_night_intruders(client_for, settings):
    settings.TIME_ZONE = "UTC"
    alert_rule_create(**EARLIER_NIGHT_RULE)
    seed()
    assert intruder_alerts(client_for) == ["High risk anywhere"]


def test_reseeding_keeps_a_night_rule_someone_changed(cameras):
    alert_rule_create(**EARLIER_NIGHT_RULE, cameras=[cameras["garage"]])
    seed()
    assert AlertRule.objects.filter(name="Person at night").exists()


def test_seeding_twice_creates_nothing_new_and_prints_the_same_token():
    first = seed()
    before = counts()
    second = seed()
    assert counts() == before
    token = Token.objects.get(user__username="pipeline").key
    assert f"token {token}" in first
    assert f"token {token}" in second


def test_output_gives_every_credential():
    out = seed()
    assert "username admin  password lookout-admin" in out
    assert "username viewer  password lookout-viewer" in out
    assert "(cameras front_door, driveway)" in out
    assert "Authorization: Token " in out


def test_a_rerun_keeps_the_passwords_set_at_creation():
    seed(admin_password="first-admin", viewer_password="first-viewer")
    out = seed(admin_password="second-admin", viewer_password="second-viewer")
    assert "second-" not in out
    assert "password (set earlier and kept; --reset-demo-passwords sets a new one)" in out
    assert authenticate(username="admin", password="first-admin")
    assert authenticate(username="viewer", password="first-viewer")


def test_the_reset_flag_sets_the_given_passwords():
    seed(admin_password="first-admin", viewer_password="first-viewer")
    out = seed(admin_password="s3cret-admin", viewer_password="s3cret-viewer", reset_demo_passwords=True)
    assert "password s3cret-admin" in out
    assert "password s3cret-viewer" in out
    assert authenticate(username="admin", password="s3cret-admin")
    assert authenticate(username="viewer", password="s3cret-viewer")
    assert authenticate(username="admin", password="first-admin") is None


def test_passwords_default_to_the_environment(monkeypatch):
    monkeypatch.setenv("LOOKOUT_ADMIN_PASSWORD", "from-env-admin")
    assert "password from-env-admin" in seed()
    assert get_user_model().objects.get(username="admin").check_password("from-env-admin")


def test_seed_keeps_an_existing_camera_as_it_is(cameras):
    seed()
    assert Camera.objects.get(pk="garage").location == "Driveway"
    assert Camera.objects.count() == 5


def test_the_seed_function_returns_what_the_command_prints():
    seeded = demo_household_seed(admin_password="a-pass", viewer_password="v-pass")
    assert seeded["admin"] == {"username": "admin", "password": "a-pass"}
    assert seeded["viewer"]["cameras"] == ["front_door", "driveway"]
    assert seeded["pipeline"]["token"] == Token.objects.get(user__username="pipeline").key
    assert seeded["cameras"] == ["front_door", "driveway", "backyard", "garage", "living_room"]


def test_the_seed_function_says_which_passwords_it_kept():
    demo_household_seed(admin_password="a-pass", viewer_password="v-pass")
    seeded = demo_household_seed(admin_password="other", viewer_password="other")
    assert (seeded["admin"]["password"], seeded["viewer"]["password"]) == (None, None)
    assert get_user_model().objects.get(username="admin").check_password("a-pass")
