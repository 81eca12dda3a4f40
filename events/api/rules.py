"""Alert rules API (staff only): CRUD and a dry run over past events."""

import contextlib
from datetime import time, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cameras.models import Camera
from events.models import AlertRule
from events.rules import alert_rule_create, alert_rule_delete, alert_rule_dry_run, alert_rule_update
from events.selectors import event_list


class WallClockTimeField(serializers.TimeField):
    """A time of day as the clock on the wall shows it in TIME_ZONE; a time with an offset is refused.

    DRF (through Django's parse_time) would drop the offset of `07:36:57Z` and store 07:36:57
    local time; converting instead would make a rule's hours move with daylight saving time.
    """

    default_error_messages = {
        "offset": "Active hours are local wall-clock times in TIME_ZONE ({time_zone}): "
        "give the time without an offset, e.g. 22:00."
    }

    def to_internal_value(self, value) -> time:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                if time.fromisoformat(value).tzinfo is not None:
                    self.fail("offset", time_zone=settings.TIME_ZONE)
        return super().to_internal_value(value)


class AlertRuleSerializer(serializers.ModelSerializer):
    """An alert rule; `cameras` is a list of camera ids (empty = every camera).

    Active hours go unchecked here: AlertRule.clean holds that rule, and the services'
    full_clean() reaches the client as a 400 through the API's exception handler.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.TimeField: WallClockTimeField,
    }
    cameras = serializers.PrimaryKeyRelatedField(many=True, queryset=Camera.objects.all(), required=False)
    object_types = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, help_text="Empty means any object."
    )

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "enabled",
            "min_risk_score",
            "cameras",
            "object_types",
            "active_from",
            "active_until",
            "cooldown_seconds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class DryRunQuerySerializer(serializers.Serializer):
    """?days=N: how far back the dry run looks."""

    days = serializers.IntegerField(min_value=1, max_value=365, default=7)


class DryRunResultSerializer(serializers.Serializer):
    """What a dry run found."""

    days = serializers.IntegerField()
    since = serializers.DateTimeField()
    events_tested = serializers.IntegerField()
    events_matched = serializers.IntegerField()
    matched_event_ids = serializers.ListField(child=serializers.IntegerField(), help_text="The first 100.")


class AlertRuleViewSet(viewsets.ModelViewSet):
    """Alert rules, by name; only staff may see or change them."""

    queryset = AlertRule.objects.prefetch_related("cameras")
    serializer_class = AlertRuleSerializer
    permission_classes = [permissions.IsAdminUser]
    cursor_ordering = ("name", "id")

    def perform_create(self, serializer):
        serializer.instance = alert_rule_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = alert_rule_update(rule=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        alert_rule_delete(rule=instance)

    @extend_schema(request=None, parameters=[DryRunQuerySerializer], responses=DryRunResultSerializer)
    @action(detail=True, methods=["post"], url_path="test", url_name="test")
    def dry_run(self, request, pk=None):
        """Which past events the rule's conditions match (enabled and cooldown aside)."""
        rule = self.get_object()
        query = DryRunQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = query.validated_data["days"]
        since = timezone.now() - timedelta(days=days)
        events = (
            event_list(user=request.user)
            .select_related(None)
            .filter(started_at__gte=since)
            .only("id", "camera_id", "risk_score", "object_types", "started_at")
            .order_by("-started_at", "-id")
        )
        result = alert_rule_dry_run(rule=rule, events=events.iterator())
        return Response(DryRunResultSerializer({"days": days, "since": since, **result}).data)
