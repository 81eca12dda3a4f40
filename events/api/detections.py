"""The detections API: filtered lists, single or bulk posts from a pipeline, snapshots behind visibility."""

import json
import mimetypes

from django.conf import settings
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.utils import html

from cameras.api import ActionPermissions
from cameras.serializers import CameraIdField
from events.filters import DetectionFilter
from events.models import Detection
from events.selectors import detection_list
from events.services import detection_ingest

# A camera frame is a few hundred KiB; anything far larger is not a snapshot.
SNAPSHOT_MAX_BYTES = 5 * 1024 * 1024


def snapshot_url(request, detection_id: int | None) -> str | None:
    """The authenticated URL of a detection's snapshot (never the media URL)."""
    if detection_id is None:
        return None
    return request.build_absolute_uri(reverse("detection-snapshot", args=[detection_id]))


class BoundingBoxSerializer(serializers.Serializer):
    """A bounding box in pixels."""

    x = serializers.IntegerField(min_value=0)
    y = serializers.IntegerField(min_value=0)
    width = serializers.IntegerField(min_value=1)
    height = serializers.IntegerField(min_value=1)

    def get_value(self, dictionary):
        # In a multipart upload the box comes as one JSON text field, or as bbox.x, bbox.y, ...
        text = dictionary.get(self.field_name) if html.is_html_input(dictionary) else None
        if isinstance(text, str):
            if not text:
                return None
            try:
                return json.loads(text)
            except ValueError:
                return text
        return super().get_value(dictionary)


class ConfidenceField(serializers.FloatField):
    """A confidence in 0–1; JSON true/false are not numbers here."""

    def __init__(self, **kwargs):
        super().__init__(min_value=0.0, max_value=1.0, **kwargs)

    def to_internal_value(self, data) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class DetectionSerializer(serializers.ModelSerializer):
    """A detection as clients read it."""

    camera_id = serializers.CharField(read_only=True)
    event_id = serializers.IntegerField(read_only=True, allow_null=True)
    bbox = BoundingBoxSerializer(read_only=True, allow_null=True)
    snapshot_url = serializers.SerializerMethodField()

    class Meta:
        model = Detection
        fields = [
            "id",
            "camera_id",
            "object_type",
            "confidence",
            "bbox",
            "detected_at",
            "snapshot_url",
            "batch_id",
            "event_id",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_snapshot_url(self, detection: Detection) -> str | None:
        return snapshot_url(self.context["request"], detection.pk if detection.snapshot else None)


class DetectionWriteSerializer(serializers.Serializer):
    """A detection as a pipeline posts it; a snapshot only with a single detection sent as multipart."""

    camera_id = CameraIdField(source="camera", write_perm="events.add_detection")
    object_type = serializers.CharField(max_length=Detection._meta.get_field("object_type").max_length)
    confidence = ConfidenceField()
    detected_at = serializers.DateTimeField()
    bbox = BoundingBoxSerializer(required=False, allow_null=True)
    snapshot = serializers.ImageField(required=False, allow_null=True)

    def validate_snapshot(self, snapshot):
        if snapshot is not None and snapshot.size > SNAPSHOT_MAX_BYTES:
            raise serializers.ValidationError(f"A snapshot may be at most {SNAPSHOT_MAX_BYTES} bytes.")
        return snapshot


def one_or_many(component_name: str, serializer: type[serializers.Serializer]) -> PolymorphicProxySerializer:
    """For the schema: a body that is either one `serializer` object or a list of 1 to DETECTION_BULK_MAX."""
    return PolymorphicProxySerializer(
        component_name=component_name,
        serializers=[serializer, serializer(many=True, min_length=1, max_length=settings.DETECTION_BULK_MAX)],
        resource_type_field_name=None,
        many=False,
    )


class DetectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Detections of the cameras you may see; pipelines post them one at a time or in bulk."""

    serializer_class = DetectionSerializer
    filterset_class = DetectionFilter
    permission_classes = [ActionPermissions]
    action_perms = {"create": "events.add_detection"}
    cursor_ordering = ("-detected_at", "-id")

    def get_queryset(self):
        return detection_list(user=self.request.user)

    @extend_schema(
        request={
            "application/json": one_or_many("DetectionCreate", DetectionWriteSerializer),
            "multipart/form-data": DetectionWriteSerializer,
        },
        responses={201: one_or_many("DetectionCreated", DetectionSerializer)},
        summary=f"Post one detection or a list of up to {settings.DETECTION_BULK_MAX}, all or nothing",
        description="Answers the created detection, or the created list for a list.",
    )
    def create(self, request):
        """Validate every row first, then store them all in one transaction."""
        many = isinstance(request.data, list)
        write = DetectionWriteSerializer(
            data=request.data,
            many=many,
            context=self.get_serializer_context(),
            **({"max_length": settings.DETECTION_BULK_MAX, "allow_empty": False} if many else {}),
        )
        write.is_valid(raise_exception=True)
        rows = write.validated_data if many else [write.validated_data]
        detections = detection_ingest(rows=rows)
        read = self.get_serializer(detections if many else detections[0], many=many)
        return Response(read.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The snapshot image."),
            404: OpenApiResponse(description="No such detection visible to you, or it has no snapshot."),
        },
        summary="Download the detection's snapshot",
    )
    @action(detail=True, methods=["get"])
    def snapshot(self, request, pk=None):
        """Stream the snapshot to a user who may see the camera (the media root is never served)."""
        detection = self.get_object()
        if not detection.snapshot:
            raise Http404("This detection has no snapshot.")
        content_type = mimetypes.guess_type(detection.snapshot.name)[0] or "application/octet-stream"
        return FileResponse(detection.snapshot.open("rb"), content_type=content_type)
