"""The events API: visibility, filters, pagination, pipeline posts, review, deletion, stats, timeline."""

from datetime import timedelta

import pytest
from rest_framework.pagination import CursorPagination
from rest_framework.test import APIClient

from cameras.tests.conftest import answers
from events.models import Event
from events.tests.conftest import (
    SEEN_NEWEST_FIRST,
    T0,
    assert_pages_stable,
    assert_refused,
    cameras_seen,
    one_per_camera,
    result_ids,
)
from project.pagination import TimeCursorPagination

LIST = "/api/events/"
STATS = "/api/events/stats/"
TIMELINE = "/api/events/timeline/"


def detail(pk: int) -> str:
    return f"/api/events/{pk}/"


def posted(**changes) -> dict:
    """A valid event payload from a pipeline that scores events itself."""
    return {
        "camera_id": "front_door",
        "started_at": "2026-11-23T10:00:00+00:00",
        "ended_at": "2026-11-23T10:02:30+00:00",
        "risk_score": 72,
        "summary": "A person lingered at the door",
        "reasoning": "Unknown person, night time",
        "object_types": ["person", "package"],
        **changes,
    }


@pytest.fixture
def events(make_event) -> dict[str, Event]:
    return one_per_camera(make_event)


# Reading


def test_every_signed_in_user_may_list_events_and_anonymous_may_not(statuses, events):
    assert statuses("get", LIST) == answers(200)


def test_each_user_lists_only_events_of_cameras_they_may_see_newest_first(client_for, users, events):
    assert cameras_seen(client_for, users, LIST) == SEEN_NEWEST_FIRST


def test_staff_who_are_not_superusers_list_the_events_of_every_camera(client_for, staff_member, events):
    assert cameras_seen(client_for, {"staff": staff_member}, LIST) == {"staff": SEEN_NEWEST_FIRST["owner"]}


def test_a_hidden_cameras_event_answers_404(statuses, events):
    assert statuses("get", detail(events["backyard"].pk)) == answers(404, owner=200)


def test_an_event_reads_with_camera_id_derived_level_and_iso_times(client_for, viewer, make_event):
    event = make_event(
        risk_score=61, ended_at=T0 + timedelta(minutes=2), object_types=["car"], batch_id="b-7"
    )
    assert client_for(viewer).get(detail(event.pk)).json() == {
        "id": event.pk,
        "camera_id": "front_door",
        "camera_name": "Front door",
        "batch_id": "b-7",
        "started_at": "2026-11-23T10:00:00Z",
        "ended_at": "2026-11-23T10:02:00Z",
        "risk_score": 61,
        "risk_level": "high",
        "summary": "Something at front_door",
        "reasoning": "",
        "object_types": ["car"],
        "detection_count": 0,
        "reviewed": False,
        "notes": "",
        "best_snapshot_url": None,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": event.updated_at.isoformat().replace("+00:00", "Z"),
    }


def test_an_event_points_to_its_most_confident_detection_that_has_a_snapshot(
    client_for, viewer, make_event, make_detection
):
    event = make_event()
    make_detection(event=event, confidence=0.99)  # most confident, but no snapshot
    best = make_detection(event=event, confidence=0.8, snapshot="snapshots/best.png")
    make_detection(event=event, confidence=0.7, snapshot="snapshots/worse.png")
    make_detection(confidence=0.95, snapshot="snapshots/other-event.png")

    body = client_for(viewer).get(detail(event.pk)).json()

    assert body["best_snapshot_url"] == f"http://testserver/api/detections/{best.pk}/snapshot/"
    assert client_for(viewer).get(LIST).json()["results"][0]["best_snapshot_url"] == body["best_snapshot_url"]


def test_between_equally_confident_snapshots_at_the_same_time_the_newest_row_is_best(
    client_for, viewer, make_event, make_detection
):
    event = make_event()
    make_detection(event=event, confidence=0.8, snapshot="snapshots/first.png")
    best = make_detection(event=event, confidence=0.8, snapshot="snapshots/second.png")
    body = client_for(viewer).get(detail(event.pk)).json()
    assert body["best_snapshot_url"] == f"http://testserver/api/detections/{best.pk}/snapshot/"


def test_between_equally_confident_snapshots_the_latest_detected_is_best(
    client_for, viewer, make_event, make_detection
):
    event = make_event()
    best = make_detection(event=event, confidence=0.8, minutes=5, snapshot="snapshots/later.png")
    make_detection(event=event, confidence=0.8, minutes=1, snapshot="snapshots/earlier.png")
    body = client_for(viewer).get(detail(event.pk)).json()
    assert body["best_snapshot_url"] == f"http://testserver/api/detections/{best.pk}/snapshot/"


def test_listing_events_takes_one_query_however_many_there_are(
    client_for, viewer, make_event, make_detection, django_assert_num_queries
):
    for minute in range(20):
        event = make_event("garage" if minute % 2 else "front_door", minutes=minute, object_types=["person"])
        make_detection(
            "garage" if minute % 2 else "front_door", event=event, snapshot=f"snapshots/{minute}.png"
        )
    with django_assert_num_queries(1):
        response = client_for(viewer).get(LIST)
    assert len(response.json()["results"]) == 20
    assert all(item["best_snapshot_url"] for item in response.json()["results"])


@pytest.fixture
def varied(make_event) -> dict[str, Event]:
    return {
        "parcel": make_event(
            "front_door", risk_score=20, minutes=0, object_types=["package", "person"], summary="Parcel left"
        ),
        "car": make_event(
            "garage",
            risk_score=65,
            minutes=60,
            object_types=["car"],
            reviewed=True,
            summary="Car in driveway",
        ),
        "prowler": make_event(
            "front_door",
            risk_score=90,
            minutes=120,
            object_types=["personal_vehicle"],
            summary="Prowler at NIGHT",
        ),
        "dog": make_event("garage", risk_score=30, minutes=180, summary="Dog barking"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["dog", "prowler", "car", "parcel"]),
        ("camera=garage", ["dog", "car"]),
        ("camera=backyard", []),
        ("risk_level=critical", ["prowler"]),
        ("risk_level=medium", ["dog"]),
        ("min_risk_score=30", ["dog", "prowler", "car"]),
        ("min_risk_score=66", ["prowler"]),
        ("reviewed=true", ["car"]),
        ("reviewed=false", ["dog", "prowler", "parcel"]),
        ("started_after=2026-11-23T11:00:00Z", ["dog", "prowler", "car"]),
        ("started_before=2026-11-23T11:00:00Z", ["parcel"]),
        ("started_after=2026-11-23T12:00:00%2B01:00&started_before=2026-11-23T13:00:00%2B01:00", ["car"]),
        ("object_type=person", ["parcel"]),
        ("object_type=personal_vehicle", ["prowler"]),
        ("object_type=car", ["car"]),
        ("object_type=cat", []),
        ("object_type=pers", []),
        ("q=night", ["prowler"]),
        ("q=in driveway", ["car"]),
        ("camera=front_door&min_risk_score=50", ["prowler"]),
    ],
)
def test_each_event_filter_narrows_the_list(client_for, viewer, varied, query, expected):
    response = client_for(viewer).get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert result_ids(response) == [varied[name].pk for name in expected]


def test_the_object_type_filter_matches_non_ascii_and_quoted_types(client_for, viewer, make_event):
    event = make_event(object_types=["chat_noir_é", 'say "hi"'])
    client = client_for(viewer)
    assert result_ids(client.get(f"{LIST}?object_type=chat_noir_é")) == [event.pk]
    assert result_ids(client.get(f"{LIST}?object_type=" + 'say "hi"')) == [event.pk]
    assert result_ids(client.get(f"{LIST}?object_type=hi")) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("risk_level=extreme", "risk_level"),
        ("min_risk_score=101", "min_risk_score"),
        ("min_risk_score=lots", "min_risk_score"),
        ("started_after=yesterday", "started_after"),
        ("started_before=2026-11-31T00:00:00Z", "started_before"),
        ("object_type=" + "x" * 41, "object_type"),
    ],
)
def test_a_malformed_event_filter_answers_400_naming_it(client_for, viewer, varied, query, field):
    response = client_for(viewer).get(f"{LIST}?{query}")
    assert (response.status_code, list(response.json())) == (400, [field])


def test_cursor_pages_neither_repeat_nor_skip_when_newer_events_arrive(client_for, viewer, make_event):
    assert_pages_stable(client_for(viewer), LIST, make_event)


@pytest.mark.xfail(
    TimeCursorPagination.encode_cursor is CursorPagination.encode_cursor,
    reason="DRF gives a first page of equal times no cursor position (a bare OFFSET): "
    "project/pagination.py needs the encode_cursor fix proposed with this API",
    strict=True,
)
def test_events_sharing_a_start_time_page_by_id_without_loss(client_for, viewer, make_event):
    def older_at_the_same_time(camera: str, *, minutes: float) -> Event:
        return make_event(camera, minutes=minutes if minutes >= 10 else 0)

    assert_pages_stable(client_for(viewer), LIST, older_at_the_same_time)


# Posting


def test_only_holders_of_the_add_permission_may_post_events(statuses, cameras):
    assert statuses("post", LIST, posted()) == answers(403, owner=201, pipeline=201)
    assert Event.objects.count() == 2


def test_a_posted_event_answers_201_with_its_derived_risk_level(client_for, pipeline, cameras):
    response = client_for(pipeline).post(LIST, posted(risk_level="low"), format="json")

    assert response.status_code == 201
    stored = Event.objects.get()
    body = response.json()
    assert (body["id"], body["camera_id"], body["risk_score"], body["risk_level"]) == (
        stored.pk,
        "front_door",
        72,
        "high",
    )
    assert body["object_types"] == ["package", "person"]
    assert (body["started_at"], body["ended_at"]) == ("2026-11-23T10:00:00Z", "2026-11-23T10:02:30Z")
    assert (stored.risk_level, stored.summary, stored.reasoning) == (
        "high",
        "A person lingered at the door",
        "Unknown person, night time",
    )


def test_a_minimal_event_needs_only_camera_start_score_and_summary(client_for, pipeline, cameras):
    payload = {key: posted()[key] for key in ("camera_id", "started_at", "risk_score", "summary")}
    response = client_for(pipeline).post(LIST, payload, format="json")
    assert response.status_code == 201
    stored = Event.objects.get()
    assert (stored.ended_at, stored.reasoning, stored.object_types) == (None, "", [])


def test_a_pipeline_may_post_an_event_for_a_camera_no_one_granted_it(client_for, pipeline, cameras):
    assert client_for(pipeline).post(LIST, posted(camera_id="backyard"), format="json").status_code == 201
    assert list(Event.objects.values_list("camera_id", flat=True)) == ["backyard"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"camera_id": "attic"}, "camera_id"),
        ({"started_at": "soon"}, "started_at"),
        ({"ended_at": "2026-11-23T09:59:59+00:00"}, "ended_at"),
        ({"risk_score": 101}, "risk_score"),
        ({"risk_score": -1}, "risk_score"),
        ({"risk_score": "high"}, "risk_score"),
        ({"risk_score": 7.5}, "risk_score"),
        ({"summary": ""}, "summary"),
        ({"summary": ["a", "b"]}, "summary"),
        ({"object_types": "person"}, "object_types"),
        ({"object_types": ["x" * 41]}, "object_types"),
        ({"reasoning": {"why": "no"}}, "reasoning"),
    ],
)
def test_a_bad_event_answers_400_naming_the_field_and_stores_nothing(
    client_for, pipeline, cameras, change, field
):
    response = client_for(pipeline).post(LIST, posted(**change), format="json")
    assert_refused(response, field, Event)


@pytest.mark.parametrize("missing", ["camera_id", "started_at", "risk_score", "summary"])
def test_an_event_missing_a_required_field_answers_400_naming_it(client_for, pipeline, cameras, missing):
    payload = posted()
    del payload[missing]
    response = client_for(pipeline).post(LIST, payload, format="json")
    assert response.json() == {missing: ["This field is required."]}
    assert Event.objects.count() == 0


# Review


def test_anyone_who_sees_an_event_may_review_it(statuses, events):
    assert statuses("patch", detail(events["garage"].pk), {"reviewed": True}) == answers(
        404, viewer=200, owner=200
    )


def test_reviewing_stores_reviewed_and_notes(client_for, viewer, make_event):
    event = make_event()
    response = client_for(viewer).patch(
        detail(event.pk), {"reviewed": True, "notes": "The postman"}, format="json"
    )
    assert (response.status_code, response.json()["reviewed"], response.json()["notes"]) == (
        200,
        True,
        "The postman",
    )
    event.refresh_from_db()
    assert (event.reviewed, event.notes) == (True, "The postman")


def test_a_viewer_cannot_review_a_hidden_cameras_event(client_for, viewer, events):
    event = events["backyard"]
    assert client_for(viewer).patch(detail(event.pk), {"reviewed": True}, format="json").status_code == 404
    event.refresh_from_db()
    assert event.reviewed is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"risk_score": 5}, "risk_score"),
        ({"risk_level": "low"}, "risk_level"),
        ({"summary": "nothing", "reviewed": True}, "summary"),
        ({"camera_id": "garage"}, "camera_id"),
        ({"reviewed": "maybe"}, "reviewed"),
        ({"notes": ["a"]}, "notes"),
    ],
)
def test_a_review_of_anything_but_reviewed_and_notes_answers_400_and_changes_nothing(
    client_for, owner, make_event, change, field
):
    event = make_event(risk_score=70)
    response = client_for(owner).patch(detail(event.pk), change, format="json")
    assert (response.status_code, list(response.json())) == (400, [field])
    event.refresh_from_db()
    assert (event.risk_score, event.summary, event.reviewed, event.camera_id) == (
        70,
        "Something at front_door",
        False,
        "front_door",
    )


def test_an_event_cannot_be_replaced_with_put(client_for, owner, make_event):
    event = make_event()
    assert client_for(owner).put(detail(event.pk), posted(), format="json").status_code == 405


# Deletion


def test_only_holders_of_the_delete_permission_may_delete_an_event(statuses, make_event):
    events = {}

    def fresh(user_name: str) -> str:
        events[user_name] = make_event("garage")
        return detail(events[user_name].pk)

    assert statuses("delete", fresh) == answers(403, owner=204)
    assert sorted(Event.objects.values_list("pk", flat=True)) == sorted(
        event.pk for name, event in events.items() if name != "owner"
    )


# Stats and timeline


def test_stats_count_the_visible_events_by_level_camera_and_object_type(
    client_for, viewer, varied, make_event
):
    make_event("backyard", risk_score=99, object_types=["person"])
    response = client_for(viewer).get(STATS)
    assert response.json() == {
        "total": 4,
        "by_risk_level": {"low": 1, "medium": 1, "high": 1, "critical": 1},
        "by_camera": {"front_door": 2, "garage": 2},
        "by_object_type": {"car": 1, "package": 1, "person": 1, "personal_vehicle": 1},
    }


def test_stats_honour_the_list_filters(client_for, owner, varied, make_event):
    make_event("garage", risk_score=40, object_types=["car", "person"])
    response = client_for(owner).get(f"{STATS}?camera=garage&object_type=car")
    assert response.json() == {
        "total": 2,
        "by_risk_level": {"low": 0, "medium": 1, "high": 1, "critical": 0},
        "by_camera": {"garage": 2},
        "by_object_type": {"car": 2, "person": 1},
    }


def test_stats_of_a_stranger_are_all_zero(client_for, stranger, varied):
    assert client_for(stranger).get(STATS).json() == {
        "total": 0,
        "by_risk_level": {"low": 0, "medium": 0, "high": 0, "critical": 0},
        "by_camera": {},
        "by_object_type": {},
    }


def test_stats_take_a_fixed_number_of_queries(client_for, owner, make_event, django_assert_max_num_queries):
    for minute in range(30):
        make_event(
            ["front_door", "garage", "backyard"][minute % 3],
            risk_score=minute * 3,
            object_types=[f"t{minute % 4}"],
        )
    with django_assert_max_num_queries(3):
        assert client_for(owner).get(STATS).json()["total"] == 30


def test_anonymous_may_not_read_stats_or_the_timeline(client_for, varied):
    assert (client_for(None).get(STATS).status_code, client_for(None).get(TIMELINE).status_code) == (401, 401)


@pytest.fixture
def spread(make_event) -> None:
    """Events at 10:00, 10:30 and 11:15 on Monday 23 Nov 2026, one on the 24th, one a week later."""
    make_event(risk_score=10, minutes=0)
    make_event(risk_score=70, minutes=30)
    make_event("garage", risk_score=40, minutes=75)
    make_event(risk_score=90, minutes=24 * 60)
    make_event("garage", risk_score=5, minutes=7 * 24 * 60)
    make_event("backyard", risk_score=100, minutes=1)


def levels(low=0, medium=0, high=0, critical=0) -> dict[str, int]:
    return {"low": low, "medium": medium, "high": high, "critical": critical}


def test_the_hourly_timeline_counts_visible_events_per_hour(client_for, viewer, spread):
    response = client_for(viewer).get(f"{TIMELINE}?bucket=hour&started_before=2026-11-24T00:00:00Z")
    assert response.json() == {
        "bucket": "hour",
        "results": [
            {
                "start": "2026-11-23T10:00:00Z",
                "count": 2,
                "max_risk_score": 70,
                "by_risk_level": levels(low=1, high=1),
            },
            {
                "start": "2026-11-23T11:00:00Z",
                "count": 1,
                "max_risk_score": 40,
                "by_risk_level": levels(medium=1),
            },
        ],
    }


def test_the_timeline_counts_per_day_by_default(client_for, viewer, spread):
    assert [(row["start"], row["count"]) for row in client_for(viewer).get(TIMELINE).json()["results"]] == [
        ("2026-11-23T00:00:00Z", 3),
        ("2026-11-24T00:00:00Z", 1),
        ("2026-11-30T00:00:00Z", 1),
    ]


def test_the_weekly_timeline_buckets_from_monday(client_for, owner, spread):
    response = client_for(owner).get(f"{TIMELINE}?bucket=week&camera=front_door")
    assert response.json()["results"] == [
        {
            "start": "2026-11-23T00:00:00Z",
            "count": 3,
            "max_risk_score": 90,
            "by_risk_level": levels(low=1, high=1, critical=1),
        },
    ]


@pytest.mark.parametrize("bucket", ["month", "minute", "HOUR"])
def test_an_unknown_timeline_bucket_answers_400(client_for, viewer, spread, bucket):
    response = client_for(viewer).get(f"{TIMELINE}?bucket={bucket}")
    assert (response.status_code, list(response.json())) == (400, ["bucket"])


@pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Token not-a-key"}])
def test_an_unauthenticated_api_request_answers_401_asking_for_a_token(db, headers):
    response = APIClient().get(LIST, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
