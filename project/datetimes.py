"""Times the database can store and compare: within years 1–9999 once converted to UTC.

Python's datetime stops at year 9999, and Django converts an aware time to UTC before it
reaches SQLite: `9999-12-31T23:00:00` in America/New_York is year 10000 there, and the
conversion raises OverflowError (a 500) in the middle of a query or an INSERT.
"""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from rest_framework import serializers

OUT_OF_RANGE = "Out of range: must be within years 1–9999 in UTC."


def validate_storable_datetime(value: datetime) -> None:
    """A validator (Django forms and DRF alike): the time converts to UTC within years 1–9999."""
    if value.tzinfo is None:
        return  # with USE_TZ, fields make a time aware before validators run
    try:
        value.astimezone(UTC)
    except OverflowError as error:
        raise ValidationError(OUT_OF_RANGE, code="overflow") from error


class StorableDateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, refusing a time the database cannot store as a field error."""

    default_error_messages = {"overflow": OUT_OF_RANGE}
    default_validators = [validate_storable_datetime]

    def enforce_timezone(self, value: datetime) -> datetime:
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            # DRF's check for ambiguous local times converts a naive time to UTC unguarded.
            self.fail("overflow")
