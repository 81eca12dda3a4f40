"""The system status snapshot: health, GPU (null figures without one), queues, cameras, realtime."""

from django.db.models import Count

from cameras.models import Camera
from realtime.status import realtime_status


def gpu_stats() -> dict:
    """GPU figures; null when no GPU library is present (none is required)."""
    return {"utilization": None, "memory_used": None, "memory_total": None, "temperature": None}


def camera_counts() -> dict:
    """Cameras by status, and how many are enabled."""
    by_status = dict(Camera.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "enabled": Camera.objects.filter(enabled=True).count(),
    }


def system_status() -> dict:
    """Everything /api/system/status/ reports."""
    cameras = camera_counts()
    offline = cameras["by_status"].get("offline", 0) + cameras["by_status"].get("error", 0)
    return {
        "health": "degraded" if offline else "healthy",
        "gpu": gpu_stats(),
        "cameras": cameras,
        "queue": {"queues": {}, "total_queued": 0, "total_processing": 0},
        "realtime": realtime_status(),
    }
