"""Template filters for the payload dicts the dashboard renders (their times are ISO strings)."""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def as_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 string from a payload as a datetime, so the `date` filter can format it."""
    return parse_datetime(value) if value else None
