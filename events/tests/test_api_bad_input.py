"""Bad input on every endpoint answers 400 or 404 with a JSON body, stores nothing, and never a 500."""

from base64 import b64encode

import pytest
from django.db import connection
from django.utils import timezone

from cameras.models import Camera
from events.models import AlertRule, Detection, Event, Job
from events.services import detection_ingest
from events.tests.factories import make_alert, make_event, make_job, make_rule
from project.api_errors import model_validation_error
from project.parsers import JSON_MAX_DEPTH


def nested(depth: int) -> str:
    """A JSON object nested `depth` levels deep."""
    return '{"a":' * depth + "1" + "}" * depth


# Deeper than orjson's own limit, and deeper than Python's recursion limit (1000) but within
# orjson's (1024): there, repr() and str() of the parsed value in DRF fields would recurse.
DEPTHS = [100_000, 1_000]
STORED = (Camera, Detection, Event, AlertRule, Job)


def stored_rows() -> dict:
    """Every row of every model a write endpoint may touch, as stored."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in STORED}


@pytest.fixture
def household(owner, cameras):
    """One of each object the write endpoints change."""
    event = make_event(cameras["front_door"])
    rule = make_rule("Night", active_from=None)
    make_alert(cameras["garage"])
    make_job(owner)
    detection_ingest(
        rows=[
            {
                "camera": cameras["front_door"],
                "object_type": "cat",
                "confidence": 0.5,
                "detected_at": timezone.now(),
            }
        ]
    )
    return {"event": event.pk, "rule": rule.pk, "camera": "garage"}


# (method, url) of every endpoint that takes a JSON body; ids from `household`.
JSON_WRITES = [
    ("post", "/api/jobs/"),
    ("post", "/api/events/"),
    ("patch", "/api/events/{event}/"),
    ("post", "/api/detections/"),
    ("post", "/api/alert-rules/"),
    ("put", "/api/alert-rules/{rule}/"),
    ("patch", "/api/alert-rules/{rule}/"),
    ("post", "/api/cameras/"),
    ("put", "/api/cameras/{camera}/"),
    ("patch", "/api/cameras/{camera}/"),
]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(("method", "url"), JSON_WRITES)
def test_deeply_nested_json_answers_400_and_stores_nothing(client_for, owner, household, method, url, depth):
    before = stored_rows()
    response = client_for(owner).generic(
        method.upper(), url.format(**household), nested(depth), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")
    assert stored_rows() == before


@pytest.mark.parametrize(
    "body",
    [
        f'{{"job_type": {nested(1_000)}}}',
        f'{{"job_type": "export", "params": {{"format": {nested(1_000)}}}}}',
        f'{{"job_type": "export", "params": {{"camera": [{nested(1_000)}]}}}}',
    ],
    ids=["job_type", "params-format", "params-camera"],
)
def test_a_deeply_nested_value_inside_a_body_answers_400(client_for, owner, household, body):
    before = stored_rows()
    response = client_for(owner).generic("POST", "/api/jobs/", body, content_type="application/json")
    assert (response.status_code, list(response.json())) == (400, ["detail"])
    assert stored_rows() == before


def test_json_nested_up_to_the_limit_is_parsed(client_for, owner, household):
    body = f'{{"job_type": "export", "params": {{"camera": {nested(JSON_MAX_DEPTH - 2)}}}}}'
    response = client_for(owner).generic("POST", "/api/jobs/", body, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"params": {"camera": ["Not a valid string."]}})


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_box_in_a_multipart_detection_answers_400(client_for, pipeline, cameras, depth):
    payload = {
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": "0.9",
        "detected_at": timezone.now().isoformat(),
        "bbox": nested(depth),
    }
    response = client_for(pipeline).post("/api/detections/", payload, format="multipart")
    assert (response.status_code, list(response.json())) == (400, ["bbox"])
    assert Detection.objects.count() == 0


def test_json_in_a_declared_charset_other_than_utf8_is_read(client_for, owner, cameras):
    body = '{"name": "Cour arrière", "location": "Jardin", "id": "cour"}'.encode("utf-16")
    response = client_for(owner).generic(
        "POST", "/api/cameras/", body, content_type="application/json; charset=utf-16"
    )
    assert (response.status_code, Camera.objects.get(pk="cour").name) == (201, "Cour arrière")


# A box value past what the database's integer column holds


def column_max() -> int:
    return connection.ops.integer_field_range("PositiveIntegerField")[1]


def detection(**bbox) -> dict:
    box = {"x": 0, "y": 0, "width": 10, "height": 10, **bbox}
    return {
        "camera_id": "front_door",
        "object_type": "person",
        "confidence": 0.9,
        "detected_at": timezone.now().isoformat(),
        "bbox": box,
    }


@pytest.mark.parametrize("part", ["x", "y", "width", "height"])
def test_a_box_value_past_the_columns_range_answers_400_naming_it(client_for, pipeline, cameras, part):
    payload = detection(**{part: column_max() + 1})
    response = client_for(pipeline).post("/api/detections/", payload, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"bbox": {part: [f"Ensure this value is less than or equal to {column_max()}."]}},
    )
    assert Detection.objects.count() == 0


def test_a_box_value_past_the_columns_range_in_a_bulk_post_names_its_row(client_for, pipeline, cameras):
    rows = [detection(), detection(x=column_max() + 1)]
    response = client_for(pipeline).post("/api/detections/", rows, format="json")
    assert (response.status_code, list(response.json()), list(response.json()["1"])) == (400, ["1"], ["bbox"])
    assert Detection.objects.count() == 0


def test_a_box_value_at_the_columns_maximum_is_stored(client_for, pipeline, cameras):
    response = client_for(pipeline).post("/api/detections/", detection(x=column_max()), format="json")
    assert response.status_code == 201
    assert Detection.objects.get().bbox_x == column_max()


# Crafted cursors

LISTS = ["/api/events/", "/api/alerts/", "/api/jobs/", "/api/detections/", "/api/alert-rules/"]
TIME_ORDERED = LISTS[:4]


def cursor(query: str) -> str:
    return b64encode(query.encode()).decode()


@pytest.mark.parametrize("url", TIME_ORDERED)
@pytest.mark.parametrize(
    "position",
    [
        "p=garbage",
        "p=2026-11-23 10:00:00",
        "p=9999-12-31 23:59:59-01:00",
    ],
    ids=["garbage", "naive-time", "past-year-9999-in-utc"],
)
def test_a_crafted_cursor_answers_404_invalid_cursor(client_for, owner, household, url, position):
    response = client_for(owner).get(url, {"cursor": cursor(position)})
    assert (response.status_code, response.json()) == (404, {"detail": "Invalid cursor"})


def test_the_issue_cursor_answers_404_on_events_alerts_and_jobs(client_for, owner, household):
    for url in ["/api/events/", "/api/alerts/", "/api/jobs/"]:
        response = client_for(owner).get(f"{url}?cursor=cD1nYXJiYWdl")
        assert (response.status_code, response.json()) == (404, {"detail": "Invalid cursor"}), url


@pytest.mark.parametrize("url", TIME_ORDERED)
def test_a_well_formed_cursor_still_pages(client_for, owner, household, url):
    everything = client_for(owner).get(url).json()["results"]
    response = client_for(owner).get(url, {"cursor": cursor("p=2999-01-01 00:00:00%2B00:00")})
    assert (response.status_code, response.json()["results"]) == (200, everything)


# Filter and page-size values that do not parse

BAD_QUERIES = [
    ("/api/events/", "reviewed=null", "reviewed"),
    ("/api/events/", "reviewed=yes", "reviewed"),
    ("/api/events/stats/", "reviewed=null", "reviewed"),
    ("/api/events/timeline/", "reviewed=null", "reviewed"),
    ("/api/events/", "started_after=9999-12-31T23:59:59-01:00", "started_after"),
    ("/api/events/stats/", "started_before=9999-12-31T23:59:59-01:00", "started_before"),
    ("/api/events/timeline/", "started_after=9999-12-31T23:59:59-01:00", "started_after"),
    ("/api/detections/", "detected_after=9999-12-31T23:59:59-01:00", "detected_after"),
    ("/api/detections/", f"event={10**30}", "event"),
    ("/api/detections/", "event=1.5", "event"),
    ("/api/detections/", "event=0", "event"),
    ("/api/alerts/", "status=open", "status"),
    ("/api/jobs/", "job_type=backup", "job_type"),
    *[(url, "page_size=false", "page_size") for url in LISTS],
    ("/api/events/", "page_size=0", "page_size"),
    ("/api/events/", "page_size=-1", "page_size"),
    ("/api/events/", "page_size=501", "page_size"),
    ("/api/events/", "page_size=", "page_size"),
]


@pytest.mark.parametrize(("url", "query", "field"), BAD_QUERIES)
def test_a_filter_or_page_size_that_does_not_parse_answers_400_naming_it(
    client_for, owner, household, url, query, field
):
    response = client_for(owner).get(f"{url}?{query}")
    assert (response.status_code, list(response.json())) == (400, [field])


def test_the_page_size_error_says_what_is_allowed(client_for, owner, db):
    response = client_for(owner).get("/api/alert-rules/?page_size=false")
    assert response.json() == {"page_size": ["A whole number from 1 to 500."]}


@pytest.mark.parametrize(("query", "count"), [("reviewed=true", 0), ("reviewed=false", 2), ("reviewed=0", 2)])
def test_stats_filter_by_reviewed_true_or_false(client_for, owner, household, query, count):
    assert client_for(owner).get(f"/api/events/stats/?{query}").json()["total"] == count


def test_the_largest_page_size_is_accepted(client_for, owner, household):
    assert client_for(owner).get("/api/events/?page_size=500").status_code == 200


def test_a_models_whole_object_error_is_a_non_field_error():
    from django.core.exceptions import ValidationError

    error = model_validation_error(ValidationError("A box needs four values."))
    assert error.detail == {"non_field_errors": ["A box needs four values."]}
    error = model_validation_error(ValidationError({"__all__": ["No."], "name": ["Too long."]}))
    assert error.detail == {"non_field_errors": ["No."], "name": ["Too long."]}


# A time that is year 10000 in UTC (local time west of UTC, at the very end of year 9999)

LATE = "9999-12-31T23:00:00"  # naive: read in TIME_ZONE


@pytest.mark.parametrize(
    ("url", "body", "errors"),
    [
        (
            "/api/events/",
            {"camera_id": "front_door", "started_at": LATE, "risk_score": 5, "summary": "Late"},
            {"started_at": ["Out of range: must be within years 1–9999 in UTC."]},
        ),
        (
            "/api/detections/",
            {"camera_id": "front_door", "object_type": "cat", "confidence": 0.5, "detected_at": LATE},
            {"detected_at": ["Out of range: must be within years 1–9999 in UTC."]},
        ),
        (
            "/api/jobs/",
            {"job_type": "export", "params": {"started_before": LATE}},
            {"params": {"started_before": ["Out of range: must be within years 1–9999 in UTC."]}},
        ),
    ],
    ids=["event", "detection", "job"],
)
def test_a_local_time_past_year_9999_in_utc_answers_400_and_stores_nothing(
    client_for, owner, household, settings, url, body, errors
):
    settings.TIME_ZONE = "America/New_York"
    before = stored_rows()
    response = client_for(owner).post(url, body, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert stored_rows() == before


def test_a_local_time_past_year_9999_in_utc_is_refused_as_a_filter(client_for, owner, household, settings):
    settings.TIME_ZONE = "America/New_York"
    response = client_for(owner).get(f"/api/events/?started_before={LATE}")
    assert (response.status_code, list(response.json())) == (400, ["started_before"])
