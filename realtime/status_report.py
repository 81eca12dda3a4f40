"""The system status snapshot: health, GPU (null figures without one), queues, cameras, realtime.

GPU and queue figures are the system monitor's (realtime/monitor.py), read on request.

Staff see the household: every camera, every live connection of the deployment (summed over its
instances, realtime.deployment_connections) by endpoint and by user. Other
users see the cameras they may see and their own connections; who else is connected, from
where, and how many cameras the household has are not theirs to know.
"""

from django.db.models import Count, QuerySet

from cameras.models import Camera
from cameras.visibility import cameras_visible_to, sees_everything
from realtime.connection_figures import connections_of, realtime_status
from realtime.deployment_connections import deployment_connections
from realtime.monitor import gpu_stats, queue_status


def camera_counts(cameras: QuerySet[Camera]) -> dict:
    """The given cameras by status, and how many of them are enabled."""
    by_status = dict(cameras.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "enabled": cameras.filter(enabled=True).count(),
    }


def system_status(*, user) -> dict:
    """Everything /api/system/status/ reports to `user` (household-wide figures for staff only)."""
    # A plain queryset by id: the grants join of cameras_visible_to would count a camera
    # granted both directly and through a group twice in the GROUP BY.
    cameras = camera_counts(Camera.objects.filter(pk__in=cameras_visible_to(user).values("pk")))
    offline = cameras["by_status"].get("offline", 0) + cameras["by_status"].get("error", 0)
    return {
        "health": "degraded" if offline else "healthy",
        "gpu": gpu_stats(),
        "cameras": cameras,
        "queue": queue_status(),
        "realtime": realtime_report(user=user),
    }


def realtime_report(*, user) -> dict:
    """The `realtime` part of system_status: for staff the deployment's connections and this process's
    counters, for others the count of their own connections."""
    connections = deployment_connections()
    yours = {"yours": connections_of(user, connections)}
    return realtime_status(connections | yours) if sees_everything(user) else {"connections": yours}
