"""The OpenAPI schema: generated without a warning, and describing the API as it behaves."""

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_openapi_schema_generates_and_validates_without_any_warning(tmp_path):
    # --fail-on-warn raises on the first warning of any view, ours and the other apps' alike.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    assert yaml.safe_load(target.read_text())["info"]["title"] == "Lookout API"


@pytest.mark.django_db
def test_the_schema_is_served_at_api_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/events/timeline/" in response.json()["paths"]


def test_the_detection_post_takes_one_object_or_a_list(schema):
    body = schema["paths"]["/api/detections/"]["post"]["requestBody"]["content"]
    request = schema["components"]["schemas"][body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert request["oneOf"] == [
        {"$ref": "#/components/schemas/DetectionWriteRequest"},
        {"type": "array", "items": {"$ref": "#/components/schemas/DetectionWriteRequest"}},
    ]
    single = schema["components"]["schemas"]["DetectionWriteRequest"]
    assert sorted(single["required"]) == ["camera_id", "confidence", "detected_at", "object_type"]
    assert single["properties"]["snapshot"]["format"] == "binary"
    assert "multipart/form-data" in body


def test_the_snapshot_endpoint_is_documented_as_binary(schema):
    responses = schema["paths"]["/api/detections/{id}/snapshot/"]["get"]["responses"]
    assert responses["200"]["content"]["image/*"]["schema"] == {"type": "string", "format": "binary"}


EVENT_FILTERS = [
    "camera",
    "min_risk_score",
    "object_type",
    "q",
    "reviewed",
    "risk_level",
    "started_after",
    "started_before",
]


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/api/events/", ["cursor", "page_size"]),
        ("/api/events/stats/", []),
        ("/api/events/timeline/", ["bucket"]),
    ],
)
def test_the_event_reads_document_every_filter(schema, path, extra):
    names = sorted(parameter["name"] for parameter in schema["paths"][path]["get"]["parameters"])
    assert names == sorted(EVENT_FILTERS + extra)


def test_the_detection_list_documents_every_filter(schema):
    names = sorted(
        parameter["name"] for parameter in schema["paths"]["/api/detections/"]["get"]["parameters"]
    )
    assert names == [
        "batch_id",
        "camera",
        "cursor",
        "detected_after",
        "detected_before",
        "event",
        "min_confidence",
        "object_type",
        "page_size",
    ]


def test_an_event_review_documents_only_reviewed_and_notes(schema):
    assert "put" not in schema["paths"]["/api/events/{id}/"]
    request = schema["paths"]["/api/events/{id}/"]["patch"]["requestBody"]["content"]["application/json"]
    name = request["schema"]["$ref"].rsplit("/", 1)[1]
    assert sorted(schema["components"]["schemas"][name]["properties"]) == ["notes", "reviewed"]


def test_the_risk_level_of_an_event_is_read_only(schema):
    event = schema["components"]["schemas"]["Event"]
    assert event["properties"]["risk_level"]["readOnly"] is True
    assert "risk_level" not in schema["components"]["schemas"]["EventWriteRequest"]["properties"]


def test_the_heartbeat_takes_no_body_and_answers_204_without_one(schema):
    operation = schema["paths"]["/api/cameras/{id}/heartbeat/"]["post"]
    assert "requestBody" not in operation
    assert list(operation["responses"]) == ["204"]
    assert "content" not in operation["responses"]["204"]


@pytest.mark.parametrize("path", ["/api/events/", "/api/alerts/", "/api/jobs/", "/api/alert-rules/"])
def test_page_size_is_documented_with_the_range_the_api_accepts(schema, path):
    (page_size,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "page_size"]
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


def test_the_detection_post_summary_gives_the_bulk_limit_as_a_number(schema, settings):
    summary = schema["paths"]["/api/detections/"]["post"]["summary"]
    assert summary == f"Post one detection or a list of up to {settings.DETECTION_BULK_MAX}, all or nothing"
    assert "DETECTION_BULK_MAX" not in summary
