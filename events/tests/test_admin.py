"""Django admin: every page loads for staff, and every action goes through the services.

"Through the services" shows in what they publish: each change is one outbox row (one broadcast).
"""

import pytest
from django.urls import reverse

from cameras.models import Camera
from events.models import Alert, AlertRule, AlertStatus, Detection, Event, Job, JobStatus
from events.services import detection_ingest, event_record
from events.tests.conftest import T0, png_upload
from events.tests.factories import make_alert, make_event, make_job, make_rule
from realtime.models import OutboxMessage, OutboxWatermark

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(cameras, owner):
    """One of everything, so that list columns and change forms have something to render."""
    event = make_event(cameras["front_door"], 72, object_types=("car", "person"))
    detection = detection_ingest(
        rows=[
            {
                "camera": cameras["front_door"],
                "object_type": "person",
                "confidence": 0.91,
                "detected_at": event.started_at,
                "bbox": {"x": 1, "y": 2, "width": 30, "height": 40},
            }
        ]
    )[0]
    Detection.objects.filter(pk=detection.pk).update(event=event)
    rule = make_rule("Night", min_risk_score=30, cameras=[cameras["garage"]], object_types=["person"])
    alert = make_alert(cameras["garage"], 65, rule=rule)
    job = make_job(owner, format="json")
    OutboxWatermark.objects.get_or_create(pk=1)
    return {
        ("cameras", "camera"): cameras["front_door"],
        ("events", "detection"): detection,
        ("events", "event"): event,
        ("events", "alert"): alert,
        ("events", "alertrule"): rule,
        ("events", "job"): job,
        ("realtime", "outboxmessage"): OutboxMessage.objects.order_by("id").first(),
        ("realtime", "outboxwatermark"): OutboxWatermark.objects.get(pk=1),
    }


@pytest.fixture
def staff(client, owner):
    client.force_login(owner)
    return client


MODELS = [
    ("cameras", "camera"),
    ("events", "detection"),
    ("events", "event"),
    ("events", "alert"),
    ("events", "alertrule"),
    ("events", "job"),
    ("realtime", "outboxmessage"),
    ("realtime", "outboxwatermark"),
]
ADDABLE = {("cameras", "camera"), ("events", "event"), ("events", "alertrule"), ("events", "job")}


def admin_url(app: str, model: str, view: str, *args) -> str:
    return reverse(f"admin:{app}_{model}_{view}", args=args)


def published(event_type: str) -> list[dict]:
    """The payloads of `event_type` in the outbox, oldest first."""
    rows = OutboxMessage.objects.filter(event_type=event_type).order_by("id")
    return list(rows.values_list("payload", flat=True))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def run_action(client, app: str, model: str, action: str, objects) -> list[str]:
    response = client.post(
        admin_url(app, model, "changelist"),
        {"action": action, "_selected_action": [obj.pk for obj in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return messages_of(response)


@pytest.mark.parametrize(("app", "model"), MODELS)
def test_changelist_and_change_page_load_for_staff(staff, household, app, model):
    obj = household[app, model]
    assert obj is not None, "every model needs a row here"
    response = staff.get(admin_url(app, model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    assert staff.get(admin_url(app, model, "changelist"), {"q": "front"}).status_code == 200
    assert staff.get(admin_url(app, model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize(("app", "model"), MODELS)
def test_add_page_loads_where_adding_makes_sense(staff, household, app, model):
    status = 200 if (app, model) in ADDABLE else 403
    assert staff.get(admin_url(app, model, "add")).status_code == status


@pytest.mark.parametrize("who", ["viewer", "stranger"])
def test_non_staff_are_sent_to_the_login_page(client, request, household, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(admin_url("events", "event", "changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_event_change_page_shows_the_detections_inline(staff, household):
    event = household["events", "event"]
    response = staff.get(admin_url("events", "event", "change", event.pk))
    assert b"Detections (the 20 most confident)" in response.content
    assert b"0.91" in response.content


def test_event_inline_shows_only_the_most_confident_detections(staff, cameras, django_assert_max_num_queries):
    event = make_event(cameras["garage"], 40)
    rows = [
        {
            "camera": cameras["garage"],
            "object_type": "car",
            "confidence": n / 100,
            "detected_at": event.started_at,
        }
        for n in range(1, 31)
    ]
    Detection.objects.filter(pk__in=[d.pk for d in detection_ingest(rows=rows)]).update(event=event)
    response = staff.get(admin_url("events", "event", "change", event.pk))
    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.instance.confidence for form in formset.forms] == [n / 100 for n in range(30, 10, -1)]


def test_saving_an_event_changes_only_reviewed_and_notes_through_the_service(staff, household):
    event = household["events", "event"]
    response = staff.post(
        admin_url("events", "event", "change", event.pk),
        {
            "reviewed": "on",
            "notes": "The neighbour",
            "risk_score": "5",
            "detections-TOTAL_FORMS": "1",
            "detections-INITIAL_FORMS": "1",
            "detections-MIN_NUM_FORMS": "0",
            "detections-MAX_NUM_FORMS": "1000",
            "detections-0-id": str(household["events", "detection"].pk),
            "detections-0-event": str(event.pk),
        },
    )
    assert response.status_code == 302
    assert [(p["id"], p["updated_fields"]) for p in published("event.updated")] == [
        (event.pk, ["notes", "reviewed"])
    ]
    event.refresh_from_db()
    assert (event.reviewed, event.notes, event.risk_score) == (True, "The neighbour", 72)


def test_enable_and_disable_cameras_go_through_the_service(staff, cameras):
    disabled = run_action(
        staff, "cameras", "camera", "disable_selected", [cameras["garage"], cameras["backyard"]]
    )
    enabled = run_action(staff, "cameras", "camera", "enable_selected", [cameras["garage"]])
    assert sorted(p["camera_id"] for p in published("camera.disabled")) == ["backyard", "garage"]
    assert [p["camera_id"] for p in published("camera.enabled")] == ["garage"]
    assert disabled == ["Disabled 2 camera(s)."]
    assert enabled == ["Enabled 1 camera(s)."]
    states = dict(Camera.objects.values_list("pk", "enabled"))
    assert states == {"front_door": True, "garage": True, "backyard": False}


def test_mark_events_reviewed_goes_through_the_service(staff, cameras):
    events = [make_event(cameras["garage"], 20), make_event(cameras["garage"], 30)]
    assert run_action(staff, "events", "event", "mark_reviewed", events) == ["Marked 2 event(s) reviewed."]
    assert sorted((p["id"], p["updated_fields"]) for p in published("event.updated")) == [
        (event.pk, ["reviewed"]) for event in events
    ]
    assert Event.objects.filter(reviewed=True).count() == 2


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("acknowledge_selected", AlertStatus.ACKNOWLEDGED),
        ("resolve_selected", AlertStatus.RESOLVED),
        ("dismiss_selected", AlertStatus.DISMISSED),
    ],
)
def test_alert_actions_move_what_can_move_and_count_the_rest(staff, owner, cameras, action, status):
    pending = make_alert(cameras["front_door"])
    resolved = make_alert(cameras["garage"], status=AlertStatus.RESOLVED)
    resolved_at = Alert.objects.get(pk=resolved.pk).updated_at
    assert run_action(staff, "events", "alert", action, [pending, resolved]) == [
        f"{status.capitalize()} 1 alert(s). Skipped 1 that cannot be {status} in their current status."
    ]
    pending.refresh_from_db()
    resolved.refresh_from_db()
    assert pending.status == status
    assert getattr(pending, f"{status}_by") == owner
    assert (resolved.status, resolved.updated_at) == (AlertStatus.RESOLVED, resolved_at)


def test_alert_actions_go_through_the_service(staff, cameras):
    alerts = [make_alert(cameras["front_door"]), make_alert(cameras["garage"])]
    messages = run_action(staff, "events", "alert", "acknowledge_selected", alerts)
    assert messages == ["Acknowledged 2 alert(s)."]
    assert sorted((p["id"], p["acknowledged_by"]) for p in published("alert.acknowledged")) == [
        (alert.pk, "owner") for alert in alerts
    ]
    assert Alert.objects.filter(status=AlertStatus.ACKNOWLEDGED).count() == 2


def test_cancel_jobs_action_skips_finished_ones(staff, owner):
    queued = make_job(owner)
    done = make_job(owner, status=JobStatus.COMPLETED)
    messages = run_action(staff, "events", "job", "cancel_selected", [queued, done])
    assert [p["job_id"] for p in published("job.cancelled")] == [str(queued.pk)]
    assert messages == ["Cancelled 1 job(s). Skipped 1 that cannot be cancelled in their current status."]
    assert dict(Job.objects.values_list("pk", "status")) == {
        queued.pk: JobStatus.CANCELLED,
        done.pk: JobStatus.COMPLETED,
    }


def test_alert_rule_is_added_with_cameras_from_the_admin(staff, cameras):
    response = staff.post(
        admin_url("events", "alertrule", "add"),
        {
            "name": "Dogs in the garden",
            "enabled": "on",
            "min_risk_score": "20",
            "cameras": ["backyard"],
            "object_types": '["dog"]',
            "cooldown_seconds": "60",
        },
    )
    assert response.status_code == 302
    rule = AlertRule.objects.get(name="Dogs in the garden")
    assert list(rule.cameras.values_list("id", flat=True)) == ["backyard"]
    assert rule.object_types == ["dog"]


def test_a_job_added_in_the_admin_is_queued_as_through_the_api(staff, owner, cameras):
    response = staff.post(
        admin_url("events", "job", "add"), {"job_type": "export", "params": '{"camera": "front_door"}'}
    )
    assert response.status_code == 302, response.content
    job = Job.objects.get()
    assert (job.job_type, job.status, job.created_by) == ("export", JobStatus.QUEUED, owner)
    assert job.params == {"camera": "front_door", "format": "csv"}  # the API's defaults filled in


def test_a_job_with_bad_params_is_refused_in_the_admin(staff, cameras):
    response = staff.post(
        admin_url("events", "job", "add"), {"job_type": "export", "params": '{"camera": "moon"}'}
    )
    assert response.status_code == 200
    assert "Unknown camera" in response.content.decode()
    assert not Job.objects.exists()


@pytest.fixture
def pictured(cameras, media_root, clock_at_t0):
    """An event whose one detection has a snapshot."""
    [detection] = detection_ingest(
        rows=[
            {
                "camera": cameras["front_door"],
                "object_type": "person",
                "confidence": 0.9,
                "detected_at": T0,
                "snapshot": png_upload(),
            }
        ]
    )
    event = event_record(
        camera=cameras["front_door"], started_at=T0, risk_score=40, summary="Seen", detections=[detection]
    )
    return {"detection": detection, "event": event, "route": f"/api/detections/{detection.pk}/snapshot/"}


@pytest.mark.parametrize(
    "page",
    [
        lambda p: reverse("admin:events_detection_changelist"),
        lambda p: reverse("admin:events_detection_change", args=[p["detection"].pk]),
        lambda p: reverse("admin:events_event_changelist"),
        lambda p: reverse("admin:events_event_change", args=[p["event"].pk]),
    ],
    ids=["detection list", "detection", "event list", "event"],
)
def test_admin_shows_the_snapshot_as_a_thumbnail_from_the_checked_route(staff, pictured, page):
    body = staff.get(page(pictured)).content.decode()
    assert f'<a href="{pictured["route"]}"><img src="{pictured["route"]}"' in body
    assert "/media/" not in body
    image = staff.get(pictured["route"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
