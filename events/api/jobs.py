"""Jobs API: queue exports and re-analyses, follow them, cancel them, download an export."""

from django.http import FileResponse
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.fields import empty
from rest_framework.response import Response

from cameras.visibility import cameras_visible_to
from events.jobs import EXPORT_FORMATS, JobStateError, job_cancel, job_export_file
from events.models import Job, JobStatus, JobType
from events.selectors import job_list
from events.services import job_create
from project.api_errors import Conflict
from project.datetimes import StorableDateTimeField


class StrictParamsSerializer(serializers.Serializer):
    """Job parameters: unknown keys are an error, and a time range must run forwards."""

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "Unknown parameter."))
        after, before = attrs.get("started_after"), attrs.get("started_before")
        if after and before and after >= before:
            raise serializers.ValidationError({"started_before": "Must be later than started_after."})
        return attrs


class ExportParamsSerializer(StrictParamsSerializer):
    """Which events to export (the filters of the events list) and in which format."""

    camera = serializers.CharField(required=False, help_text="A camera id.")
    min_risk_score = serializers.IntegerField(min_value=0, max_value=100, required=False)
    started_after = StorableDateTimeField(required=False)
    started_before = StorableDateTimeField(required=False)
    format = serializers.ChoiceField(choices=sorted(EXPORT_FORMATS), default="csv")

    def validate_camera(self, value: str) -> str:
        if not cameras_visible_to(self.context["request"].user).filter(pk=value).exists():
            raise serializers.ValidationError(f'Unknown camera "{value}".')
        return value


class ReanalyzeParamsSerializer(StrictParamsSerializer):
    """The time range whose events are scored again."""

    started_after = StorableDateTimeField()
    started_before = StorableDateTimeField()


PARAMS_SERIALIZERS = {JobType.EXPORT: ExportParamsSerializer, JobType.REANALYZE: ReanalyzeParamsSerializer}


class StrictParamsSchema(OpenApiSerializerExtension):
    """For the schema: job parameters take no other keys, and stored ones hold every default."""

    target_class = StrictParamsSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        if direction == "response":
            # A job keeps its params' .data, where a field with a default is always present.
            defaults = [name for name, field in self.target.fields.items() if field.default is not empty]
            schema["required"] = sorted({*schema.get("required", []), *defaults})
        return schema


# For the schema: the params a job type takes, the body being {"job_type": …, "params": …}.
JOB_CREATE_SCHEMA = PolymorphicProxySerializer(
    component_name="JobCreate",
    serializers={
        job_type.value: inline_serializer(
            f"{job_type.name.title()}JobCreate",
            {
                "job_type": serializers.ChoiceField(choices=[(job_type.value, job_type.label)]),
                "params": params(required=job_type == JobType.REANALYZE),
            },
        )
        for job_type, params in PARAMS_SERIALIZERS.items()
    },
    resource_type_field_name="job_type",
)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="JobParams",
        serializers=list(PARAMS_SERIALIZERS.values()),
        resource_type_field_name=None,
    )
)
class JobParamsField(serializers.JSONField):
    """A job's stored parameters, in the shape of its type's params serializer."""


class JobCreateSerializer(serializers.Serializer):
    """A job to queue: its type and the parameters that type takes."""

    job_type = serializers.ChoiceField(choices=JobType.choices)
    params = serializers.DictField(required=False, default=dict)

    def validate(self, attrs):
        params = PARAMS_SERIALIZERS[attrs["job_type"]](data=attrs["params"], context=self.context)
        if not params.is_valid():
            raise serializers.ValidationError({"params": params.errors})
        # .data, not .validated_data: the stored params must be JSON primitives (ISO times).
        attrs["params"] = params.data
        return attrs


class JobSerializer(serializers.ModelSerializer):
    """A job with its progress, its result and, for a finished export, where to download it."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    params = JobParamsField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "job_type",
            "status",
            "progress",
            "params",
            "message",
            "result",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, job: Job) -> str | None:
        if job.job_type != JobType.EXPORT or job.status != JobStatus.COMPLETED:
            return None
        path = reverse("job-download", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class JobFilter(filters.FilterSet):
    """?status=, ?job_type=."""

    status = filters.ChoiceFilter(choices=JobStatus.choices)
    job_type = filters.ChoiceFilter(choices=JobType.choices)

    class Meta:
        model = Job
        fields = ["status", "job_type"]


class JobViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Background jobs: staff see all, others the ones they started. Re-analysis is staff only."""

    queryset = Job.objects.none()  # for the schema; requests use get_queryset()
    filterset_class = JobFilter
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self):
        return job_list(user=self.request.user)

    def get_serializer_class(self):
        return JobCreateSerializer if self.action == "create" else JobSerializer

    @extend_schema(request=JOB_CREATE_SCHEMA, responses={201: JobSerializer})
    def create(self, request, *args, **kwargs):
        """Queue a job."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job_type = serializer.validated_data["job_type"]
        if job_type == JobType.REANALYZE and not request.user.is_staff:
            raise PermissionDenied("Only staff may re-analyze events.")
        job = job_create(job_type=job_type, params=serializer.validated_data["params"], user=request.user)
        return Response(
            JobSerializer(job, context=self.get_serializer_context()).data, status.HTTP_201_CREATED
        )

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            409: OpenApiResponse(description="The job has already finished."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued or running job."""
        try:
            job = job_cancel(job=self.get_object())
        except JobStateError as error:
            raise Conflict(f"{error}.") from error
        return Response(JobSerializer(job, context=self.get_serializer_context()).data)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="A CSV export."),
            (200, "application/json"): OpenApiResponse(
                {"type": "array", "items": {"type": "object"}},
                description="A JSON export: one object per event.",
            ),
            404: OpenApiResponse(description="No such job, not yours, or not an export."),
            409: OpenApiResponse(description="The export has not completed."),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file of a completed export."""
        try:
            handle, filename, content_type = job_export_file(job=self.get_object())
        except ValueError as error:
            raise NotFound("Only an export job has a download.") from error
        except JobStateError as error:
            raise Conflict(f"{error}.") from error
        except FileNotFoundError as error:
            raise NotFound("The export's file is gone.") from error
        return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
