"""The detections API: filtered lists, single or bulk posts from a pipeline, snapshots behind visibility."""

import mimetypes
from datetime import datetime

from django.conf import settings
from django.http import FileResponse, Http404
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

from cameras.serializers import CameraIdField
from events.api.plain_rows import PlainRowsListSerializer
from events.api.snapshots import snapshot_url
from events.filters import DetectionFilter
from events.models import Detection, DetectionBatch, detected_at_plausible, snapshot_size_allowed
from events.selectors import detection_list
from events.services import detection_ingest
from project.datetimes import StorableDateTimeField
from project.parsers import json_loads
from project.permissions import ActionPermissions


def bbox_value(column: str, **kwargs) -> serializers.IntegerField:
    """A bbox value limited as its model column is: 0 up to what the database's integer holds."""
    # The rule is the model field's: its validators carry the backend's range (2**31 - 1 on
    # PostgreSQL, 2**63 - 1 on SQLite) and the service's full_clean() enforces them for every
    # caller. Reused here, the error names the value as the client sent it (bbox.x, and its
    # row in a bulk post) rather than the column.
    return serializers.IntegerField(validators=Detection._meta.get_field(column).validators, **kwargs)


class BoundingBoxSerializer(serializers.Serializer):
    """A bounding box in pixels."""

    x = bbox_value("bbox_x")
    y = bbox_value("bbox_y")
    width = bbox_value("bbox_width", min_value=1)
    height = bbox_value("bbox_height", min_value=1)

    def get_value(self, dictionary):
        # In a multipart upload the box comes as one JSON text field, or as bbox.x, bbox.y, ...
        text = dictionary.get(self.field_name) if html.is_html_input(dictionary) else None
        if isinstance(text, str):
            if not text:
                return None
            try:
                # As the JSON body parser reads: a deeply nested text is invalid, not a RecursionError.
                return json_loads(text)
            except ValueError:
                return text
        return super().get_value(dictionary)


class ConfidenceField(serializers.FloatField):
    """A confidence in 0–1; JSON true/false are not numbers here."""

    def __init__(self, **kwargs):
        # The model field's validators: the range is written once, on Detection.confidence.
        super().__init__(validators=Detection._meta.get_field("confidence").validators, **kwargs)

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
    batch_id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Lookout's batch (null for detections older than batching).",
    )

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

    def to_representation(self, detection: Detection) -> dict:
        # What DRF's walk over the fields above answers (a test holds the two equal), built
        # directly: a bulk post answers 1,000 detections, and the walk cost ~11 % of its CPU.
        return {
            "id": detection.id,
            "camera_id": detection.camera_id,
            "object_type": detection.object_type,
            "confidence": detection.confidence,
            "bbox": detection.bbox,
            "detected_at": self._time(detection.detected_at),
            "snapshot_url": self.get_snapshot_url(detection),
            "batch_id": detection.batch_id,
            "event_id": detection.event_id,
            "created_at": self._time(detection.created_at),
        }

    def _time(self, value: datetime) -> str | None:
        # DRF's format for the time (the current zone, "Z" for UTC), once per distinct time: the
        # detections of one answer share theirs.
        times = self.__dict__.setdefault("_times", {})
        if value not in times:
            times[value] = self.fields["detected_at"].to_representation(value)
        return times[value]


class DetectionWriteSerializer(serializers.Serializer):
    """A detection as a pipeline posts it; a snapshot only with a single detection sent as multipart.

    Lookout batches detections itself (per camera). `batch_id` is only for a pipeline that
    batches on its own: detections of one camera with the same label share a batch of their
    own, closed by the same window and idle rules; the label is kept as the batch's
    `source_batch_id`. The `batch_id` Lookout answers is the number of its batch.
    """

    camera_id = CameraIdField(source="camera", write_perm="events.add_detection")
    object_type = serializers.CharField(max_length=Detection._meta.get_field("object_type").max_length)
    confidence = ConfidenceField()
    # The model's own rule, surfaced here as a field error (beside the storable-range check).
    detected_at = StorableDateTimeField(
        validators=[*StorableDateTimeField.default_validators, detected_at_plausible]
    )
    bbox = BoundingBoxSerializer(required=False, allow_null=True)
    snapshot = serializers.ImageField(required=False, allow_null=True, validators=[snapshot_size_allowed])
    batch_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=DetectionBatch._meta.get_field("source_batch_id").max_length,
        help_text="Your pipeline's own batch label (optional); see the description.",
    )

    class Meta:
        # Bulk posts: plain rows skip DRF's per-field machinery, with the same rules.
        list_serializer_class = PlainRowsListSerializer


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
        description=(
            "Answers the created detection, or the created list for a list. Each detection joins its "
            "camera's open batch (`batch_id` in the answer); a batch closes BATCH_IDLE_SECONDS after its "
            "last detection or BATCH_WINDOW_SECONDS after its first, and becomes one event. A `batch_id` "
            "sent by a pipeline that batches itself is a label: that camera's detections with the same "
            "label form a batch of their own. `detected_at` must lie within DETECTION_CLOCK_SKEW_SECONDS "
            "of the server's clock."
        ),
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
        detections = detection_ingest(rows=rows, validated=True)
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
