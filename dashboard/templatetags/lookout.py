"""Template filters for the payload dicts the dashboard renders (their times are ISO strings)."""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def as_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 string from a payload as a datetime, so the `date` filter can format it."""
    return parse_datetime(value) if value else None


@register.filter
def words(name: str) -> str:
    """A key such as `channel_layer` as words: "channel layer"."""
    return name.replace("_", " ")


@register.filter
def export_scope(params: dict, camera_names: dict) -> str:
    """An export's params in words: "CSV · Front door · risk ≥ 40 · from … · before …"."""
    parts = [params.get("format", "csv").upper()]
    if params.get("camera"):
        parts.append(camera_names.get(params["camera"], params["camera"]))
    if params.get("min_risk_score") is not None:
        parts.append(f"risk ≥ {params['min_risk_score']}")
    if params.get("started_after"):
        parts.append(f"from {params['started_after']}")
    if params.get("started_before"):
        parts.append(f"before {params['started_before']}")
    return " · ".join(parts)


@register.filter
def get(mapping: dict, key: str):
    """mapping[key] in a template (None when missing)."""
    return mapping.get(key)
