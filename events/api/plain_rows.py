"""A list serializer that validates plain rows without DRF's per-field machinery, and leaves the rest to DRF.

A bulk post of 1,000 detections through DRF's ListSerializer cost ~80 ms of CPU, most of it
DRF's generic work around ten fields a row (get_value, empty checks, error collection), not the
rules. Pipelines send plain JSON of the right types; for such a row this runs each field's own
validators (the rules stay where they are written: the serializer's fields and the model's
columns) on the value directly, once per distinct value in the list (rows repeat their camera,
object type and box sizes). It never refuses anything itself: a row it cannot vouch for (another
type, a value a validator refuses, a field it does not know) sends the whole list through DRF's
ListSerializer, which names the row and the field as before.
"""

import functools
import math

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import empty


class NotPlain(Exception):
    """A value the fast path does not vouch for: DRF validates the list instead."""


class PlainRowsListSerializer(serializers.ListSerializer):
    """DRF's ListSerializer, with a fast path for lists of plain rows."""

    def to_internal_value(self, data):
        if type(data) is list and self._size_allowed(data):
            rows = PlainRows()
            try:
                return [rows.object(self.child, row) for row in data]
            except NotPlain:
                pass
        return super().to_internal_value(data)

    def _size_allowed(self, data: list) -> bool:
        return (
            (self.allow_empty or bool(data))
            and (self.max_length is None or len(data) <= self.max_length)
            and (self.min_length is None or len(data) >= self.min_length)
        )


class PlainRows:
    """The validation of one list: each field's answer for a value is worked out once."""

    def __init__(self) -> None:
        self.answers: dict[tuple, object] = {}

    def object(self, serializer: serializers.Serializer, data) -> dict:
        """`data` as `serializer.run_validation(data)` returns it, for a plain dict it certainly accepts."""
        if type(data) is not dict or _own_rules(serializer):
            raise NotPlain
        validated = {}
        for name, field in serializer.fields.items():
            if field.read_only:
                continue
            value = data.get(name, empty)
            if value is empty:
                if field.required or field.default is not empty:
                    raise NotPlain
                continue  # DRF leaves an optional field out when it is not sent
            validated[field.source] = self.value(field, value)
        return validated

    def value(self, field: serializers.Field, value):
        """`value` as `field.run_validation(value)` returns it, for input it certainly accepts."""
        if value is None:
            # DRF answers None without running validators when the field allows it.
            if field.allow_null:
                return None
            raise NotPlain
        if isinstance(field, serializers.Serializer):
            return self.object(field, value)
        if type(value) not in (str, int, float):
            raise NotPlain
        # type(): 1, 1.0 and True are equal keys, and DRF answers them differently.
        key = (field, type(value), value)
        if key not in self.answers:
            self.answers[key] = _scalar(field, value)
        return self.answers[key]


def _scalar(field: serializers.Field, value):
    if isinstance(field, serializers.CharField):
        if value == "" and field.allow_blank:
            return ""  # as DRF: a blank allowed is not validated further
        # DRF would turn numbers into text, strip spaces and refuse blanks: left to it.
        if type(value) is not str or not value or (field.trim_whitespace and value != value.strip()):
            raise NotPlain
        text = _validated(field, value)
        # A field that turns its text into an object (CameraIdField: a slug into a camera) says how.
        resolve = getattr(field, "resolve", None)
        return text if resolve is None else _drf(resolve, text)
    if isinstance(field, serializers.FloatField):
        # The type test keeps JSON true/false out (bool is an int; ConfidenceField refuses them).
        if type(value) is str:
            raise NotPlain
        try:
            number = float(value)
        except OverflowError as error:  # an integer too large for a float
            raise NotPlain from error
        if not math.isfinite(number):
            raise NotPlain
        return _validated(field, number)
    if isinstance(field, serializers.IntegerField):
        if type(value) is not int:
            raise NotPlain
        return _validated(field, value)
    if isinstance(field, serializers.DateTimeField) and type(value) is str:
        # Parsing is the work itself here: DRF's own path, once per distinct text.
        return _drf(field.run_validation, value)
    raise NotPlain


def _validated(field: serializers.Field, value):
    try:
        for validator in field.validators:
            validator(value)
    except (DjangoValidationError, serializers.ValidationError) as error:
        raise NotPlain from error
    return value


def _drf(method, value):
    try:
        return method(value)
    except serializers.ValidationError as error:
        raise NotPlain from error


@functools.cache
def _class_rules(cls: type[serializers.Serializer]) -> bool:
    return cls.validate is not serializers.Serializer.validate or any(
        hasattr(cls, f"validate_{name}") for name in cls._declared_fields
    )


def _own_rules(serializer: serializers.Serializer) -> bool:
    """Whether the serializer adds rules beyond its fields (validate(), validate_<field>, validators)."""
    return _class_rules(type(serializer)) or bool(serializer.validators)
