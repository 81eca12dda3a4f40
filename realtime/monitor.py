"""The system monitor: host, GPU, queue and throughput figures every SYSTEM_STATUS_INTERVAL, and
`system.health_changed` on the edges, published through the one broadcaster.

Run by the worker (one publisher per deployment: the monitor's turn is a shared one).
"""

import time
from datetime import datetime, timedelta

import psutil
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from cameras.models import Camera, CameraStatus
from events.models import BatchState, Detection, DetectionBatch, Event, Job, JobStatus
from project.health import dependency_checks
from realtime.broadcast import Message, publish_many
from realtime.event_types import WebSocketEventType as T

NO_GPU = {
    "available": False,
    "utilization": None,
    "memory_used": None,
    "memory_total": None,
    "temperature": None,
    "power_watts": None,
    "gpus": [],
}
MIB = 1024 * 1024
_UNSET = object()


def _nvml_module():
    """pynvml (the nvidia-ml-py package) when installed; it is never required."""
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _gpu(nvml, index: int) -> dict:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = nvml.nvmlDeviceGetName(handle)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    return {
        "index": index,
        "name": name.decode() if isinstance(name, bytes) else name,
        "utilization": nvml.nvmlDeviceGetUtilizationRates(handle).gpu,
        "memory_used": memory.used // MIB,
        "memory_total": memory.total // MIB,
        "temperature": nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
        # NVML reports milliwatts.
        "power_watts": round(nvml.nvmlDeviceGetPowerUsage(handle) / 1000, 1),
    }


def gpu_stats(nvml=_UNSET) -> dict:
    """Per-GPU figures and their totals (memory in MiB); `available: false` and nulls without a GPU."""
    nvml = _nvml_module() if nvml is _UNSET else nvml
    if nvml is None:
        return dict(NO_GPU)
    try:
        nvml.nvmlInit()
        try:
            gpus = [_gpu(nvml, index) for index in range(nvml.nvmlDeviceGetCount())]
        finally:
            nvml.nvmlShutdown()
    # The library without a driver, or a GPU that stopped answering: figures are null, never a crash.
    except Exception as error:  # noqa: BLE001
        return {**NO_GPU, "error": f"{type(error).__name__}: {error}"}
    if not gpus:
        return dict(NO_GPU)
    return {
        "available": True,
        "utilization": round(sum(g["utilization"] for g in gpus) / len(gpus), 1),
        "memory_used": sum(g["memory_used"] for g in gpus),
        "memory_total": sum(g["memory_total"] for g in gpus),
        "temperature": max(g["temperature"] for g in gpus),
        "power_watts": round(sum(g["power_watts"] for g in gpus), 1),
        "gpus": gpus,
    }


def queue_status() -> dict:
    """Real counts: detection batches waiting for or in analysis, jobs queued and running."""
    batches = DetectionBatch.objects.aggregate(
        open=_count(state=BatchState.OPEN),
        failed=_count(state=BatchState.FAILED),
        closing=_count(state=BatchState.CLOSING),
    )
    jobs = Job.objects.aggregate(
        queued=_count(status=JobStatus.QUEUED), running=_count(status=JobStatus.RUNNING)
    )
    queues = {
        "batches_open": batches["open"],
        "batches_failed": batches["failed"],
        "batches_analyzing": batches["closing"],
        "jobs_queued": jobs["queued"],
        "jobs_running": jobs["running"],
    }
    return {
        "queues": queues,
        # Open batches wait for their window; failed ones wait for their retry.
        "total_queued": batches["open"] + batches["failed"] + jobs["queued"],
        "total_processing": batches["closing"] + jobs["running"],
    }


def _count(**condition) -> Count:
    return Count("pk", filter=Q(**condition))


def pipeline_throughput(*, now: datetime) -> dict:
    """Detections and events stored in the last minute."""
    since = now - timedelta(minutes=1)
    return {
        "detections_per_minute": Detection.objects.filter(created_at__gt=since, created_at__lte=now).count(),
        "events_per_minute": Event.objects.filter(created_at__gt=since, created_at__lte=now).count(),
        "window_seconds": 60,
    }


def host_status() -> dict:
    """This host and process, from psutil; disk is the data directory's."""
    process = psutil.Process()
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(settings.DATA_DIR))
    return {
        "uptime_seconds": round(time.time() - process.create_time(), 1),
        # Since this thread's previous call (psutil keeps one baseline per thread): the monitor's
        # interval, as only the worker's loop thread reads it.
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory_percent": memory.percent,
        "process_memory_mb": round(process.memory_info().rss / MIB, 1),
        "disk_percent": disk.percent,
        "disk_free_gb": round(disk.free / 1024**3, 2),
    }


def health_components() -> dict[str, str]:
    """ "ok" or what is wrong, for each part Lookout depends on."""
    components = async_to_sync(dependency_checks)()
    if components["database"] != "ok":
        components["cameras"] = "unknown: the database does not answer"
        return components
    silent = Camera.objects.filter(
        enabled=True, status__in=[CameraStatus.OFFLINE, CameraStatus.ERROR]
    ).count()
    components["cameras"] = "ok" if not silent else f"{silent} enabled camera(s) offline or in error"
    return components


def overall_health(components: dict[str, str]) -> str:
    """unhealthy when a dependency fails, degraded when only cameras do, else healthy."""
    if any(components[name] != "ok" for name in ("database", "channel_layer")):
        return "unhealthy"
    return "degraded" if components["cameras"] != "ok" else "healthy"


def system_figures(*, now: datetime, components: dict[str, str], host: dict | None) -> list[Message]:
    """The periodic figures as of `now`: the monitor publishes them, the dashboard renders them first.

    `host` is host_status() for the monitor and None for a page, which shows no host figures: its CPU
    figure would cover only the time since the request thread's previous psutil call.
    """
    gpu, queue = gpu_stats(), queue_status()
    return [
        Message(
            T.SYSTEM_STATUS,
            {
                "health": overall_health(components),
                "components": components,
                "host": host,
                "gpu": gpu,
                "queue": queue,
                # Camera figures are per user (/api/system/status/): this frame reaches everyone.
                "cameras": None,
                "timestamp": timezone.now().isoformat(),
            },
        ),
        Message(T.GPU_STATS_UPDATED, gpu),
        Message(T.QUEUE_STATUS, queue),
        Message(T.PIPELINE_THROUGHPUT, pipeline_throughput(now=now)),
    ]


class SystemMonitor:
    """Publishes the periodic figures; remembers the last components to send health changes on edges only."""

    def __init__(self) -> None:
        self.components: dict[str, str] | None = None

    def __call__(self, now: datetime) -> None:
        """One round: health first (it works without the database), then the figures that need it."""
        components = health_components()
        health = overall_health(components)
        messages = []
        if self.components is not None and _states(components) != _states(self.components):
            messages.append(
                Message(
                    T.SYSTEM_HEALTH_CHANGED,
                    {
                        "health": health,
                        "previous_health": overall_health(self.components),
                        "components": components,
                    },
                )
            )
        self.components = components
        if components["database"] != "ok":
            publish_many(messages)
            return
        messages += system_figures(now=now, components=components, host=host_status())
        publish_many(messages)


def _states(components: dict[str, str]) -> dict[str, bool]:
    return {name: value == "ok" for name, value in components.items()}
