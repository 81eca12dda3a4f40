"""Query-string filters of the detections and events lists (and of the events stats and timeline)."""

import json

import django_filters
from django.db.models import Q, QuerySet

from events.models import Detection, Event
from events.risk import RiskLevel

# After is inclusive and before exclusive, so that consecutive ranges neither overlap nor leave gaps.


class DetectionFilter(django_filters.FilterSet):
    """camera, object_type, min_confidence, detected_after/before, event, batch_id."""

    camera = django_filters.CharFilter(field_name="camera_id", help_text="A camera_id.")
    object_type = django_filters.CharFilter()
    min_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="gte", min_value=0, max_value=1
    )
    detected_after = django_filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="gte")
    detected_before = django_filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="lt")
    event = django_filters.NumberFilter(field_name="event_id", min_value=1)
    batch_id = django_filters.NumberFilter(min_value=1, help_text="Lookout's batch number.")

    class Meta:
        model = Detection
        fields = []


class EventFilter(django_filters.FilterSet):
    """camera, risk_level, min_risk_score, reviewed, started_after/before, object_type, q."""

    camera = django_filters.CharFilter(field_name="camera_id", help_text="A camera_id.")
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices)
    min_risk_score = django_filters.NumberFilter(
        field_name="risk_score", lookup_expr="gte", min_value=0, max_value=100
    )
    reviewed = django_filters.BooleanFilter()
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    object_type = django_filters.CharFilter(
        method="filter_object_type", max_length=40, help_text="Events whose object_types contain it."
    )
    q = django_filters.CharFilter(
        field_name="summary", lookup_expr="icontains", help_text="Text in the summary."
    )

    class Meta:
        model = Event
        fields = []

    def filter_object_type(self, queryset: QuerySet[Event], name: str, value: str) -> QuerySet[Event]:
        """Events whose object_types list has `value` as one of its elements."""
        # JSONField __contains is not available on SQLite, and the related detections miss
        # events posted by a pipeline. The JSON text of a list of strings holds `"value"`
        # (quotes included) exactly when one element equals value: a longer element such as
        # "personal" has no quote after "person", and a quote inside an element is escaped.
        # Both backends render the list as `["a", "b"]`, but SQLite keeps Django's \u escapes
        # of non-ASCII text where PostgreSQL prints it raw, hence both needles.
        needles = {json.dumps(value), json.dumps(value, ensure_ascii=False)}
        matches = Q()
        for needle in needles:
            matches |= Q(object_types__icontains=needle)
        return queryset.filter(matches)
