"""Query-string filters of the detections and events lists (and of the events stats and timeline)."""

import json

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField

from events.models import Detection, DetectionBatch, Event
from events.risk import RiskLevel
from project.datetimes import validate_storable_datetime

# A filter value that does not parse answers 400 with the field's error (DjangoFilterBackend
# raises): a client must never get unfiltered rows while believing they are filtered.


class StrictBooleanField(forms.Field):
    """true or false (also True/False, 1/0); Django's NullBooleanField reads anything else as "no filter"."""

    widget = forms.TextInput
    VALUES = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}

    def to_python(self, value) -> bool | None:
        if value in self.empty_values:
            return None
        if value not in self.VALUES:
            raise ValidationError("Use true or false.", code="invalid")
        return self.VALUES[value]


class StrictBooleanFilter(django_filters.BooleanFilter):
    """?name=true|false; any other value is a 400."""

    field_class = StrictBooleanField


class StorableIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time that the database can compare (a naive one is in TIME_ZONE)."""

    default_validators = [validate_storable_datetime]


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time (a naive one is in TIME_ZONE) that the database can compare."""

    field_class = StorableIsoDateTimeField


class RowIdFilter(django_filters.NumberFilter):
    """A row id: a whole number from 1 up to what the id column holds (past it, SQLite overflows)."""

    field_class = forms.IntegerField

    def __init__(self, *, model, **kwargs):
        super().__init__(min_value=1, validators=model._meta.pk.validators, **kwargs)

    def get_max_validator(self):
        return None  # the column's own range is among the validators


# After is inclusive and before exclusive, so that consecutive ranges neither overlap nor leave gaps.


class DetectionFilter(django_filters.FilterSet):
    """camera, object_type, min_confidence, detected_after/before, event, batch_id."""

    camera = django_filters.CharFilter(field_name="camera_id", help_text="A camera_id.")
    object_type = django_filters.CharFilter()
    min_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="gte", min_value=0, max_value=1
    )
    detected_after = IsoDateTimeFilter(field_name="detected_at", lookup_expr="gte")
    detected_before = IsoDateTimeFilter(field_name="detected_at", lookup_expr="lt")
    event = RowIdFilter(field_name="event_id", model=Event)
    batch_id = RowIdFilter(model=DetectionBatch, help_text="Lookout's batch number.")

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
    reviewed = StrictBooleanFilter()
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
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
