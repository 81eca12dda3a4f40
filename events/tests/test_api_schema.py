"""The OpenAPI schema: generated without a warning, and describing the API as it behaves."""

import jsonschema
import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from events.services import alert_acknowledge
from events.tests.factories import make_alert


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
        {
            "type": "array",
            "items": {"$ref": "#/components/schemas/DetectionWriteRequest"},
            "minItems": 1,
            "maxItems": settings.DETECTION_BULK_MAX,
        },
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
    assert "200" not in operation["responses"]
    assert "content" not in operation["responses"]["204"]


@pytest.mark.parametrize("path", ["/api/events/", "/api/alerts/", "/api/jobs/", "/api/alert-rules/"])
def test_page_size_is_documented_with_the_range_the_api_accepts(schema, path):
    (page_size,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "page_size"]
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


def test_the_detection_post_summary_gives_the_bulk_limit_as_a_number(schema, settings):
    summary = schema["paths"]["/api/detections/"]["post"]["summary"]
    assert summary == f"Post one detection or a list of up to {settings.DETECTION_BULK_MAX}, all or nothing"
    assert "DETECTION_BULK_MAX" not in summary


@pytest.mark.parametrize("actor", ["acknowledged_by", "resolved_by", "dismissed_by"])
def test_who_moved_an_alert_is_documented_nullable(schema, actor):
    assert schema["components"]["schemas"]["Alert"]["properties"][actor]["nullable"] is True


def test_who_created_a_job_is_documented_nullable(schema):
    assert schema["components"]["schemas"]["Job"]["properties"]["created_by"]["nullable"] is True


def test_a_ticket_is_documented_as_created(schema):
    responses = schema["paths"]["/api/realtime/ticket/"]["post"]["responses"]
    assert sorted(responses) == ["201", "401", "403", "503"]


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


@pytest.mark.parametrize("status", ["401", "403", "503"])
def test_every_operation_documents_401_403_and_503_with_an_error_body(schema, status):
    for path, method, operation in operations(schema):
        response = operation["responses"].get(status)
        assert response, f"{method} {path}"
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/cameras/", "get", ["200", "401", "403", "503"]),
        ("/api/cameras/", "post", ["201", "400", "401", "403", "503"]),
        ("/api/cameras/{id}/", "get", ["200", "401", "403", "404", "503"]),
        ("/api/cameras/{id}/", "delete", ["204", "401", "403", "404", "503"]),
        ("/api/events/", "get", ["200", "400", "401", "403", "404", "503"]),
        ("/api/events/stats/", "get", ["200", "400", "401", "403", "503"]),
        ("/api/events/{id}/", "patch", ["200", "400", "401", "403", "404", "503"]),
        ("/api/alerts/{id}/acknowledge/", "post", ["200", "401", "403", "404", "409", "503"]),
        ("/api/alert-rules/{id}/test/", "post", ["200", "400", "401", "403", "404", "503"]),
        ("/api/jobs/", "post", ["201", "400", "401", "403", "503"]),
        ("/api/jobs/{id}/cancel/", "post", ["200", "401", "403", "404", "409", "503"]),
        ("/api/jobs/{id}/download/", "get", ["200", "401", "403", "404", "409", "503"]),
        ("/api/system/status/", "get", ["200", "401", "403", "503"]),
    ],
)
def test_operations_document_the_client_errors_they_answer(schema, path, method, statuses):
    assert sorted(schema["paths"][path][method]["responses"]) == statuses


def error_schema(schema, path, method, status):
    return schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def test_a_conflict_declared_by_a_view_gets_the_error_body_and_keeps_its_description(schema):
    response = schema["paths"]["/api/alerts/{id}/resolve/"]["post"]["responses"]["409"]
    assert response["description"] == "The alert's status does not allow this transition."
    assert error_schema(schema, "/api/alerts/{id}/resolve/", "post", "409") == {
        "$ref": "#/components/schemas/Error"
    }


def test_a_400_is_documented_as_field_errors_and_as_a_list_where_the_body_may_be_a_list(schema):
    assert error_schema(schema, "/api/events/", "post", "400") == {
        "$ref": "#/components/schemas/ValidationError"
    }
    assert error_schema(schema, "/api/detections/", "post", "400") == {
        "$ref": "#/components/schemas/BulkValidationError"
    }


def query_parameter(schema, path, name):
    (parameter,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
    return parameter["schema"]


@pytest.mark.parametrize(
    ("path", "name", "expected"),
    [
        ("/api/detections/", "event", {"type": "integer", "minimum": 1}),
        (
            "/api/detections/",
            "min_confidence",
            {"type": "number", "format": "float", "minimum": 0, "maximum": 1},
        ),
        ("/api/events/", "min_risk_score", {"type": "integer", "minimum": 0, "maximum": 100}),
        ("/api/events/", "object_type", {"type": "string", "maxLength": 40}),
        ("/api/events/", "page_size", {"type": "integer", "minimum": 1, "maximum": 500}),
        ("/api/jobs/", "page_size", {"type": "integer", "minimum": 1, "maximum": 500}),
    ],
)
def test_query_parameters_document_the_bounds_the_server_enforces(schema, path, name, expected):
    assert query_parameter(schema, path, name) == expected


def test_a_job_body_documents_the_params_of_each_job_type(schema):
    components = schema["components"]["schemas"]
    request = schema["paths"]["/api/jobs/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    job_create = components[request["$ref"].rsplit("/", 1)[1]]
    assert job_create["discriminator"] == {
        "propertyName": "job_type",
        "mapping": {
            "export": "#/components/schemas/ExportJobCreateRequest",
            "reanalyze": "#/components/schemas/ReanalyzeJobCreateRequest",
        },
    }
    export = components["ExportParamsRequest"]
    assert sorted(export["properties"]) == [
        "camera",
        "format",
        "min_risk_score",
        "started_after",
        "started_before",
    ]
    assert export["additionalProperties"] is False
    reanalyze = components["ReanalyzeParamsRequest"]
    assert reanalyze["required"] == ["started_after", "started_before"]
    assert reanalyze["additionalProperties"] is False
    assert components["ReanalyzeJobCreateRequest"]["required"] == ["job_type", "params"]


def test_a_job_documents_its_stored_params_as_one_of_the_job_types(schema):
    components = schema["components"]["schemas"]
    assert components["Job"]["properties"]["params"]["allOf"] == [{"$ref": "#/components/schemas/JobParams"}]
    assert components["JobParams"]["oneOf"] == [
        {"$ref": "#/components/schemas/ExportParams"},
        {"$ref": "#/components/schemas/ReanalyzeParams"},
    ]
    # Stored export params always hold the format, which tells them from a re-analysis range.
    assert components["ExportParams"]["required"] == ["format"]


def test_an_alert_rule_time_is_documented_as_a_local_time_without_offset(schema):
    active_from = schema["components"]["schemas"]["AlertRule"]["properties"]["active_from"]
    assert "format" not in active_from
    assert active_from["pattern"] == r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


def documented(schema, path, method, status):
    """A validator for the body the schema documents for that answer."""
    return jsonschema.Draft7Validator(
        {**error_schema(schema, path, method, status), "components": schema["components"]}
    )


@pytest.mark.django_db
def test_the_documented_error_bodies_are_what_the_api_answers(schema, client_for, owner, viewer, cameras):
    alert = make_alert(cameras["front_door"], 70)
    hidden = make_alert(cameras["backyard"], 70)
    alert_acknowledge(alert=alert, user=owner)
    answers = [
        ("/api/alert-rules/", "post", "403", client_for(viewer).post("/api/alert-rules/", {}, format="json")),
        ("/api/alerts/{id}/", "get", "404", client_for(viewer).get(f"/api/alerts/{hidden.pk}/")),
        (
            "/api/alerts/{id}/acknowledge/",
            "post",
            "409",
            client_for(owner).post(f"/api/alerts/{alert.pk}/acknowledge/"),
        ),
        (
            "/api/events/",
            "post",
            "400",
            client_for(owner).post("/api/events/", {"risk_score": 101}, format="json"),
        ),
        ("/api/events/", "get", "400", client_for(owner).get("/api/events/?risk_level=nope")),
        ("/api/events/", "get", "404", client_for(owner).get("/api/events/?cursor=bm9wZQ")),
        (
            "/api/jobs/",
            "post",
            "400",
            client_for(owner).post("/api/jobs/", {"job_type": "export", "params": {"x": 1}}, format="json"),
        ),
        (
            "/api/detections/",
            "post",
            "400",
            client_for(owner).post("/api/detections/", [{}, {}], format="json"),
        ),
        (
            "/api/detections/",
            "post",
            "400",
            client_for(owner).post("/api/detections/", "[", content_type="application/json"),
        ),
    ]
    for path, method, status, response in answers:
        assert str(response.status_code) == status, (path, method, response.content)
        documented(schema, path, method, status).validate(response.json())


def test_a_json_export_download_is_documented_as_a_json_list(schema):
    content = schema["paths"]["/api/jobs/{id}/download/"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"type": "array", "items": {"type": "object"}}
    assert content["text/csv"]["schema"] == {"type": "string", "format": "binary"}
