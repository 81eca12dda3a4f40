"""Where a client fetches a detection's snapshot: the permission-checked route, never the media URL."""

from django.urls import reverse


def snapshot_path(detection_id: int | None) -> str | None:
    """The path of a detection's snapshot route (None without one): what frames, pages and the admin link."""
    if detection_id is None:
        return None
    return reverse("detection-snapshot", args=[detection_id])


def snapshot_url(request, detection_id: int | None) -> str | None:
    """`snapshot_path` made absolute for a REST answer."""
    path = snapshot_path(detection_id)
    return request.build_absolute_uri(path) if path else None
