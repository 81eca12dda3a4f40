"""Where a client fetches a detection's snapshot: the permission-checked route, never the media URL."""

from django.urls import reverse


def snapshot_url(request, detection_id: int | None) -> str | None:
    """The authenticated URL of a detection's snapshot (None without one)."""
    if detection_id is None:
        return None
    return request.build_absolute_uri(reverse("detection-snapshot", args=[detection_id]))
