"""What the generated OpenAPI schema cannot infer: error answers, query bounds and local times.

drf-spectacular documents only the success of an operation. DRF's own errors follow from an
operation's shape, so `document_error_responses` adds them once for every operation instead of
an `extend_schema` per view: 403 where authentication is required, 404 where the path names an
object (or a cursor may be stale or forged), 400 where a body or a query parameter is validated.
A view still declares the errors only it knows (409) and their descriptions; the body is filled
in here.
"""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiFilterExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type, build_parameter_type, is_list_serializer
from drf_spectacular.serializers import PolymorphicProxySerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

ERROR_REF = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR_REF = {"$ref": "#/components/schemas/ValidationError"}
ERROR_COMPONENTS = {
    "Error": {
        "type": "object",
        "description": "Why the request was refused, for a person to read.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": (
            "Field name → list of messages; `non_field_errors` for the object as a whole, a nested "
            "object for a nested field, and `detail` alone when the body could not be parsed."
        ),
        "additionalProperties": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {}}, {"type": "object"}]
        },
    },
    "BulkValidationError": {
        "description": (
            "For one object, a ValidationError; for a list, one ValidationError per item in order "
            "(empty for a valid item), or a ValidationError on the list itself (its length)."
        ),
        "anyOf": [VALIDATION_ERROR_REF, {"type": "array", "items": VALIDATION_ERROR_REF}],
    },
}
ERROR_DESCRIPTIONS = {
    "400": "The body or a query parameter is invalid.",
    "401": "Not authenticated: send `Authorization: Token <key>` (or a session cookie).",
    "403": "Not allowed to do this.",
    "404": "No such object visible to you (or, for a list, an invalid cursor).",
    "503": "The database is unavailable; try again after the `Retry-After` header's seconds.",
}


def _resolve(schema: dict, components: dict) -> dict:
    ref = schema.get("$ref", "")
    return components.get(ref.rsplit("/", 1)[-1], schema) if ref else schema


def _takes_a_list(operation: dict, components: dict) -> bool:
    """The request body may be a JSON array (DRF then answers a list of per-item errors)."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = _resolve(media.get("schema", {}), components)
        variants = [schema, *(_resolve(each, components) for each in schema.get("oneOf", []))]
        if any(variant.get("type") == "array" for variant in variants):
            return True
    return False


def _error_statuses(path: str, operation: dict) -> set[str]:
    parameters = operation.get("parameters", [])
    statuses = {"503"}  # every operation reads the database (project/api_errors.py)
    if {} not in operation.get("security", [{}]):
        statuses |= {"401", "403"}
    if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
        statuses.add("400")
    if "{" in path or any(p["in"] == "query" and p["name"] == "cursor" for p in parameters):
        statuses.add("404")
    return statuses


def document_error_responses(result: dict, generator, request, public) -> dict:
    """Postprocessing hook: document 400/401/403/404/503 on every operation, with a body on every error."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(ERROR_COMPONENTS)
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation["responses"]
            for status in _error_statuses(path, operation):
                responses.setdefault(status, {"description": ERROR_DESCRIPTIONS[status]})
            operation["responses"] = responses = dict(sorted(responses.items()))
            for status, response in responses.items():
                if status[0] not in "45" or "content" in response:
                    continue
                if status != "400":
                    schema = ERROR_REF
                elif _takes_a_list(operation, components):
                    schema = {"$ref": "#/components/schemas/BulkValidationError"}
                else:
                    schema = VALIDATION_ERROR_REF
                response["content"] = {"application/json": {"schema": schema}}
    return result


class BoundedFilterExtension(DjangoFilterExtension):
    """django-filter parameters with the bounds the filters enforce, and id filters typed as ids."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        try:
            model_field = model._meta.get_field(filter_field.field_name or "")
        except FieldDoesNotExist:  # a lookup across a relation
            model_field = None
        for parameter in parameters:
            schema = parameter["schema"]
            if model_field is not None and model_field.many_to_one and schema.get("type") == "number":
                # `event_id` is the foreign key's column: the upstream lookup misses it.
                schema.clear()
                schema.update(build_basic_type(OpenApiTypes.INT))
            for bound, keyword in (("minimum", "min_value"), ("maximum", "max_value")):
                if filter_field.extra.get(keyword) is not None:
                    schema[bound] = filter_field.extra[keyword]
            if filter_field.extra.get("max_length") is not None:
                schema["maxLength"] = filter_field.extra["max_length"]
        return parameters


class TimeCursorPaginationExtension(OpenApiFilterExtension):
    """The cursor and page_size parameters, with page_size's bounds."""

    target_class = "project.pagination.TimeCursorPagination"
    match_subclasses = True

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        paginator = self.target
        page_size = build_basic_type(OpenApiTypes.INT)
        page_size.update(minimum=1, maximum=paginator.max_page_size)
        return [
            build_parameter_type(
                name=paginator.cursor_query_param,
                location=OpenApiParameter.QUERY,
                schema=build_basic_type(OpenApiTypes.STR),
                description="The `next` or `previous` cursor of a page.",
            ),
            build_parameter_type(
                name=paginator.page_size_query_param,
                location=OpenApiParameter.QUERY,
                schema=page_size,
                description=f"Results per page (default {paginator.page_size}).",
            ),
        ]


class LocalTimeFieldExtension(OpenApiSerializerFieldExtension):
    """A time of day in the hub's local time: JSON Schema's `time` format would demand an offset."""

    target_class = "rest_framework.fields.TimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "description": "Local time of day, HH:MM[:SS[.ffffff]], without an offset.",
            "example": "22:00:00",
        }


class BoundedPolymorphicProxyExtension(PolymorphicProxySerializerExtension):
    """A one-or-many body whose list variant keeps its min_length/max_length (upstream drops them)."""

    priority = 0

    def _process_serializer(self, auto_schema, serializer, direction):
        name, schema = super()._process_serializer(auto_schema, serializer, direction)
        if schema and is_list_serializer(serializer):
            for bound, length in (("minItems", serializer.min_length), ("maxItems", serializer.max_length)):
                if length is not None:
                    schema[bound] = length
        return name, schema
