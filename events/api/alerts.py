"""Alerts API: list and read the alerts a user may see; acknowledge, resolve or dismiss them."""

from collections.abc import Callable

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from events.models import Alert, AlertRule, AlertStatus, Event
from events.risk import RiskLevel
from events.selectors import alert_list
from events.services import AlertTransitionError, alert_acknowledge, alert_dismiss, alert_resolve
from project.api_errors import Conflict


class AlertFilter(filters.FilterSet):
    """?status=, ?severity=, ?camera=<camera_id>."""

    status = filters.ChoiceFilter(choices=AlertStatus.choices)
    severity = filters.ChoiceFilter(choices=RiskLevel.choices)
    camera = filters.CharFilter(field_name="event__camera_id", label="Camera id")

    class Meta:
        model = Alert
        fields = ["status", "severity", "camera"]


class AlertEventSerializer(serializers.ModelSerializer):
    """What a client needs to render an alert's event without fetching it."""

    class Meta:
        model = Event
        fields = ["id", "risk_score", "risk_level", "summary", "started_at"]


class AlertRuleRefSerializer(serializers.ModelSerializer):
    """The rule that raised an alert."""

    class Meta:
        model = AlertRule
        fields = ["id", "name"]


class AlertSerializer(serializers.ModelSerializer):
    """An alert with its camera, rule, who moved it and a summary of its event."""

    event_id = serializers.IntegerField(read_only=True)
    camera_id = serializers.CharField(source="event.camera_id", read_only=True)
    camera_name = serializers.CharField(source="event.camera.name", read_only=True)
    rule = AlertRuleRefSerializer(read_only=True, allow_null=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    dismissed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    event = AlertEventSerializer(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "event_id",
            "camera_id",
            "camera_name",
            "severity",
            "status",
            "message",
            "rule",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
            "dismissed_by",
            "dismissed_at",
            "created_at",
            "updated_at",
            "event",
        ]
        read_only_fields = fields


transition_schema = extend_schema(
    request=None,
    responses={
        200: AlertSerializer,
        404: OpenApiResponse(description="No such alert, or its camera is not visible to you."),
        409: OpenApiResponse(description="The alert's status does not allow this transition."),
    },
)


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts on events of the cameras the user may see, newest first."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    cursor_ordering = ("-created_at", "-id")

    def get_queryset(self):
        return alert_list(user=self.request.user).select_related(
            "acknowledged_by", "resolved_by", "dismissed_by"
        )

    def _transition(self, move: Callable[..., Alert]) -> Response:
        alert = self.get_object()
        try:
            move(alert=alert, user=self.request.user)
        except AlertTransitionError as error:
            raise Conflict(f"Alert {alert.pk}: {error}.") from error
        return Response(self.get_serializer(self.get_queryset().get(pk=alert.pk)).data)

    @transition_schema
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Acknowledge a pending alert."""
        return self._transition(alert_acknowledge)

    @transition_schema
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Resolve a pending or acknowledged alert."""
        return self._transition(alert_resolve)

    @transition_schema
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Dismiss a pending or acknowledged alert as a false alarm."""
        return self._transition(alert_dismiss)
