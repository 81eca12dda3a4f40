"""The server-rendered pages with the Django test client: owner, viewer, stranger, anonymous."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events.models import AlertStatus, Detection
from events.services import alert_raise, event_record
from events.tests.factories import make_job


@pytest.fixture
def household(cameras):
    """An event with a pending alert on a visible camera and on the hidden one."""
    now = datetime.now(UTC)
    seen = event_record(
        camera=cameras["front_door"], started_at=now, risk_score=72, summary="Person at the door"
    )
    hidden = event_record(
        camera=cameras["backyard"], started_at=now, risk_score=90, summary="Someone in the garden"
    )
    return {
        "seen": seen,
        "hidden": hidden,
        "seen_alert": alert_raise(event=seen, rule=None, message="door"),
        "hidden_alert": alert_raise(event=hidden, rule=None, message="garden"),
    }


def test_anonymous_is_sent_to_the_sign_in_page(client, household):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


def test_the_viewer_can_sign_in_and_out(client, viewer):
    response = client.post(reverse("login"), {"username": "viewer", "password": "viewer-pass-123"})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert client.get("/").status_code == 200
    response = client.post(reverse("logout"))
    assert response.url == reverse("login")
    assert client.get("/").status_code == 302


def test_the_sign_in_page_renders_with_labels(client, db):
    body = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">Username</label>' in body
    assert '<label for="id_password">Password</label>' in body


def test_viewer_sees_only_their_cameras_events_and_alerts(client, viewer, household):
    client.force_login(viewer)
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Front door" in body and "Garage" in body and "Backyard" not in body
    assert "Person at the door" in body and "Someone in the garden" not in body
    assert f'id="alert-{household["seen_alert"].id}"' in body
    assert f'id="alert-{household["hidden_alert"].id}"' not in body
    assert [a["id"] for a in response.context["initial"]["alerts"]] == [household["seen_alert"].id]
    assert {c["camera_id"] for c in response.context["initial"]["cameras"]} == {"front_door", "garage"}


def test_owner_sees_every_camera_and_the_risk_level_as_text(client, owner, household):
    client.force_login(owner)
    body = client.get("/").content.decode()
    assert "Backyard" in body and "Someone in the garden" in body
    assert '<span class="badge risk-critical">Critical 90</span>' in body
    assert "<title>(2) Dashboard · Lookout</title>" in body


def test_stranger_sees_an_empty_dashboard(client, stranger, household):
    client.force_login(stranger)
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "No cameras are shared with you." in body
    assert "Person at the door" not in body and "Someone in the garden" not in body
    assert response.context["initial"]["events"] == []


def test_initial_rows_are_embedded_with_the_live_payload_shape(client, viewer, household):
    client.force_login(viewer)
    initial = client.get("/").context["initial"]
    event = initial["events"][0]
    assert event["camera_name"] == "Front door" and event["risk_level"] == "high"
    alert = initial["alerts"][0]
    assert alert["camera_name"] == "Front door" and alert["risk_level"] == "high"
    assert initial["since"] > 0


def test_viewer_acknowledges_an_alert_without_javascript(client, viewer, household):
    client.force_login(viewer)
    alert = household["seen_alert"]
    response = client.post(reverse("dashboard-alert-action", args=[alert.id, "acknowledge"]), follow=True)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == viewer
    assert f"Alert {alert.id} acknowledged." in response.content.decode()


def test_acknowledging_twice_says_why_and_changes_nothing(client, viewer, household):
    client.force_login(viewer)
    alert = household["seen_alert"]
    url = reverse("dashboard-alert-action", args=[alert.id, "dismiss"])
    client.post(url)
    response = client.post(reverse("dashboard-alert-action", args=[alert.id, "acknowledge"]), follow=True)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED
    assert "cannot move an alert from dismissed" in response.content.decode()


@pytest.mark.parametrize("who", ["viewer", "stranger"])
def test_hidden_alerts_cannot_be_moved_from_the_dashboard(client, request, household, who):
    client.force_login(request.getfixturevalue(who))
    alert = household["hidden_alert"]
    response = client.post(reverse("dashboard-alert-action", args=[alert.id, "dismiss"]))
    alert.refresh_from_db()
    assert response.status_code == 404 and alert.status == AlertStatus.PENDING


def test_alert_actions_need_post_and_a_known_action(client, owner, household):
    client.force_login(owner)
    alert = household["seen_alert"]
    assert client.get(reverse("dashboard-alert-action", args=[alert.id, "dismiss"])).status_code == 405
    assert client.post(reverse("dashboard-alert-action", args=[alert.id, "delete"])).status_code == 404


def test_anonymous_alert_action_goes_to_sign_in_and_changes_nothing(client, household):
    alert = household["seen_alert"]
    response = client.post(reverse("dashboard-alert-action", args=[alert.id, "dismiss"]))
    alert.refresh_from_db()
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert alert.status == AlertStatus.PENDING


def test_the_admin_says_lookout(client, owner):
    client.force_login(owner)
    body = client.get("/admin/").content.decode()
    assert "<title>Site administration | Lookout</title>" in body
    assert '<a href="/admin/">Lookout</a>' in body


def test_api_docs_load_swagger_ui_from_our_own_static_files(client, owner):
    from django.contrib.staticfiles import finders

    client.force_login(owner)
    body = client.get("/api/docs/").content.decode()
    assert "cdn.jsdelivr.net" not in body
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in body
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_the_system_panel_starts_from_the_monitors_own_figures(client, viewer, household):
    make_job(viewer)
    client.force_login(viewer)
    response = client.get("/")
    body = response.content.decode()
    status = response.context["initial"]["system"]["status"]
    assert set(status) == {"health", "components", "host", "gpu", "queue", "cameras", "timestamp"}
    assert status["queue"]["queues"]["jobs_queued"] == 1
    assert '<span id="system-health" class="badge health-healthy">Healthy</span>' in body
    assert '<li id="component-channel_layer" data-ok="true">Channel layer: ok</li>' in body
    assert '<dd id="system-gpu">No GPU</dd>' in body
    assert '<dd id="system-queue">1 queued, 0 processing</dd>' in body
    assert '<dd id="system-throughput">0 detections, 2 events a minute</dd>' in body
    assert '<dd id="system-connections">0 of yours</dd>' in body


def test_the_system_panel_counts_the_queues_once_per_page_view(client, viewer, household):
    make_job(viewer)
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/").content.decode()
    assert '<dd id="system-queue">1 queued, 0 processing</dd>' in body
    for table in ("events_job", "events_detectionbatch"):
        assert sum(f'FROM "{table}"' in query["sql"] for query in queries) == 1, table


def test_a_page_view_carries_no_host_figures_of_its_own(client, viewer):
    # The panel shows none; a CPU figure read in the request's thread would cover no real window.
    client.force_login(viewer)
    assert client.get("/").context["initial"]["system"]["status"]["host"] is None


def test_staff_see_every_live_connection_in_the_system_panel(client, owner, db):
    client.force_login(owner)
    response = client.get("/")
    assert set(response.context["initial"]["system"]["connections"]) >= {"total", "yours"}
    assert '<dd id="system-connections">0 in all, 0 of yours</dd>' in response.content.decode()


def test_camera_tiles_show_the_latest_snapshot_through_the_checked_route(client, viewer, cameras):
    now = timezone.now()

    def detection(camera: str, minutes: int, snapshot: str = "") -> Detection:
        return Detection.objects.create(
            camera=cameras[camera],
            object_type="person",
            confidence=0.9,
            detected_at=now - timedelta(minutes=minutes),
            snapshot=snapshot,
        )

    detection("front_door", 3, "snapshots/older.jpg")
    latest = detection("front_door", 2, "snapshots/latest.jpg")
    detection("front_door", 1)  # newer, but without a snapshot
    hidden = detection("backyard", 1, "snapshots/garden.jpg")
    client.force_login(viewer)
    response = client.get("/")
    body = response.content.decode()
    url = reverse("detection-snapshot", args=[latest.pk])
    assert f'<img class="snapshot" src="{url}" alt="Latest snapshot from Front door"' in body
    assert reverse("detection-snapshot", args=[hidden.pk]) not in body
    tiles = {c["camera_id"]: c["snapshot_url"] for c in response.context["initial"]["cameras"]}
    assert tiles == {"front_door": url, "garage": None}
    assert "/media/" not in body


def test_event_rows_and_camera_tiles_link_to_their_pages(client, viewer, household):
    client.force_login(viewer)
    body = client.get("/").content.decode()
    assert f'<a href="{reverse("event-page", args=[household["seen"].pk])}">Person at the door</a>' in body
    assert f'<a href="{reverse("camera-page", args=["front_door"])}">Front door</a>' in body
