"""The events API: filtered lists, pipeline posts, review (reviewed, notes), deletion, stats, timeline."""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cameras.serializers import CameraIdField
from events.api.event_reports import EventStatsSerializer, EventTimelineSerializer, TimelineQuerySerializer
from events.api.snapshots import snapshot_url
from events.filters import EventFilter
from events.models import Detection, Event
from events.selectors import event_list, event_stats, event_timeline, events_with_best_snapshot
from events.services import EVENT_EDITABLE_FIELDS, event_delete, event_record, event_update
from project.datetimes import StorableDateTimeField
from project.permissions import ActionPermissions

OBJECT_TYPE_MAX_LENGTH = Detection._meta.get_field("object_type").max_length


class EventSerializer(serializers.ModelSerializer):
    """A security event as clients read it, with the URL of its best snapshot if it has one."""

    camera_id = serializers.CharField(read_only=True)
    camera_name = serializers.CharField(source="camera.name", read_only=True)
    object_types = serializers.ListField(child=serializers.CharField(), read_only=True)
    best_snapshot_url = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "camera_id",
            "camera_name",
            "batch_id",
            "started_at",
            "ended_at",
            "risk_score",
            "risk_level",
            "summary",
            "reasoning",
            "object_types",
            "detection_count",
            "reviewed",
            "notes",
            "best_snapshot_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_best_snapshot_url(self, event: Event) -> str | None:
        return snapshot_url(self.context["request"], getattr(event, "best_snapshot_id", None))


class EventWriteSerializer(serializers.Serializer):
    """An event posted by a pipeline that scores it itself; risk_level follows from risk_score.

    Event.clean (through event_record's full_clean) refuses an end before the start.
    """

    camera_id = CameraIdField(source="camera", write_perm="events.add_event")
    started_at = StorableDateTimeField()
    ended_at = StorableDateTimeField(required=False, allow_null=True)
    # The model field's validators: the range is written once, on Event.risk_score.
    risk_score = serializers.IntegerField(validators=Event._meta.get_field("risk_score").validators)
    summary = serializers.CharField(max_length=2000)
    reasoning = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    object_types = serializers.ListField(
        child=serializers.CharField(max_length=OBJECT_TYPE_MAX_LENGTH), required=False, max_length=50
    )


class EventReviewSerializer(serializers.Serializer):
    """What people may change on an event; naming any other field is an error, not a silent no-op."""

    reviewed = serializers.BooleanField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)

    def to_internal_value(self, data) -> dict:
        if isinstance(data, Mapping):
            fixed = sorted(set(data) - EVENT_EDITABLE_FIELDS)
            if fixed:
                raise serializers.ValidationError(
                    {name: ["This field cannot be changed; only reviewed and notes can."] for name in fixed}
                )
        return super().to_internal_value(data)


class EventViewSet(viewsets.ModelViewSet):
    """Events of the cameras you may see: read, review, and (with permission) post and delete."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    permission_classes = [ActionPermissions]
    action_perms = {"create": "events.add_event", "destroy": "events.delete_event"}
    cursor_ordering = ("-started_at", "-id")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return events_with_best_snapshot(event_list(user=self.request.user))

    @extend_schema(request=EventWriteSerializer, responses={201: EventSerializer})
    def create(self, request):
        """Record an event posted by a pipeline."""
        write = EventWriteSerializer(data=request.data, context=self.get_serializer_context())
        write.is_valid(raise_exception=True)
        event = event_record(**write.validated_data)
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EventReviewSerializer, responses=EventSerializer)
    def partial_update(self, request, pk=None):
        """Mark an event reviewed or change its notes."""
        event = self.get_object()
        review = EventReviewSerializer(data=request.data)
        review.is_valid(raise_exception=True)
        event = event_update(event=event, **review.validated_data)
        return Response(self.get_serializer(event).data)

    def perform_destroy(self, instance: Event) -> None:
        event_delete(event=instance)

    def _filtered_events(self):
        # Stats and the timeline aggregate: they skip the per-row snapshot subquery.
        return self.filter_queryset(event_list(user=self.request.user))

    @extend_schema(
        responses=EventStatsSerializer, filters=True, summary="Count events by level, camera, type"
    )
    @action(detail=False, methods=["get"])
    def stats(self, request):
        """Counts of the filtered events by risk level, camera and object type."""
        return Response(EventStatsSerializer(event_stats(self._filtered_events())).data)

    @extend_schema(
        parameters=[TimelineQuerySerializer],
        responses=EventTimelineSerializer,
        filters=True,
        summary="Count events per hour, day or week",
    )
    @action(detail=False, methods=["get"])
    def timeline(self, request):
        """The filtered events counted per bucket (?bucket=hour|day|week, default day)."""
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        bucket = query.validated_data["bucket"]
        buckets = event_timeline(self._filtered_events(), bucket=bucket)
        return Response(EventTimelineSerializer({"bucket": bucket, "results": buckets}).data)
