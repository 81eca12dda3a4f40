"""The system monitor: GPU figures with and without NVML, real queue counts, throughput, health edges."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.utils import timezone

from events.models import BatchState, DetectionBatch, Job, JobStatus
from events.services import detection_ingest
from events.tests.factories import make_event
from realtime.monitor import SystemMonitor, gpu_stats, pipeline_throughput, queue_status

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SYSTEM_GROUP = "lookout.system"
ROUND = sorted(["system.status", "gpu.stats_updated", "queue.status", "pipeline.throughput"])


class RecordedNVML:
    """nvidia-ml-py's calls answering what two GPUs reported (an RTX 4090 under load, an idle T4)."""

    NVML_TEMPERATURE_GPU = 0
    GPUS = [
        {"name": b"NVIDIA GeForce RTX 4090", "gpu": 87, "used": 17_179_869_184, "total": 25_757_220_864,
         "temperature": 71, "power": 312_456},
        {"name": "Tesla T4", "gpu": 3, "used": 268_435_456, "total": 16_106_127_360,
         "temperature": 38, "power": 27_893},
    ]  # fmt: skip

    def __init__(self):
        self.initialized = self.shut_down = 0

    def nvmlInit(self):
        self.initialized += 1

    def nvmlShutdown(self):
        self.shut_down += 1

    def nvmlDeviceGetCount(self):
        return len(self.GPUS)

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.GPUS[index]

    def nvmlDeviceGetName(self, handle):
        return handle["name"]

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=handle["gpu"], memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(
            used=handle["used"], total=handle["total"], free=handle["total"] - handle["used"]
        )

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return handle["temperature"]

    def nvmlDeviceGetPowerUsage(self, handle):
        return handle["power"]


class NoDriverNVML(RecordedNVML):
    """The library installed on a host without the NVIDIA driver."""

    def nvmlInit(self):
        raise OSError("NVML Shared Library Not Found")


def test_without_a_gpu_library_the_figures_are_null_and_unavailable():
    assert gpu_stats() == gpu_stats(None)
    assert gpu_stats(None) == {
        "available": False,
        "utilization": None,
        "memory_used": None,
        "memory_total": None,
        "temperature": None,
        "power_watts": None,
        "gpus": [],
    }


def test_without_a_driver_the_figures_are_null_and_the_error_is_said():
    stats = gpu_stats(NoDriverNVML())
    assert stats["available"] is False
    assert stats["utilization"] is None
    assert stats["error"] == "OSError: NVML Shared Library Not Found"


def test_recorded_nvml_figures_are_read_per_gpu_and_summed():
    nvml = RecordedNVML()
    stats = gpu_stats(nvml)
    assert stats["gpus"] == [
        {"index": 0, "name": "NVIDIA GeForce RTX 4090", "utilization": 87, "memory_used": 16384,
         "memory_total": 24564, "temperature": 71, "power_watts": 312.5},
        {"index": 1, "name": "Tesla T4", "utilization": 3, "memory_used": 256, "memory_total": 15360,
         "temperature": 38, "power_watts": 27.9},
    ]  # fmt: skip
    assert (stats["available"], stats["utilization"], stats["memory_used"], stats["memory_total"]) == (
        True,
        45.0,
        16640,
        39924,
    )
    assert (stats["temperature"], stats["power_watts"]) == (71, 340.4)
    assert nvml.initialized == nvml.shut_down == 1


def test_queue_status_counts_batches_and_jobs_as_they_are(cameras, owner):
    detection_ingest(
        rows=[
            {"camera": cameras[slug], "object_type": "car", "confidence": 0.9, "detected_at": timezone.now()}
            for slug in ("garage", "front_door", "backyard")
        ]
    )
    DetectionBatch.objects.filter(camera_id="garage").update(state=BatchState.FAILED)
    DetectionBatch.objects.filter(camera_id="backyard").update(state=BatchState.CLOSING)
    for status in (JobStatus.QUEUED, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED):
        Job.objects.create(job_type="export", status=status, created_by=owner)
    assert queue_status() == {
        "queues": {
            "batches_open": 1,
            "batches_failed": 1,
            "batches_analyzing": 1,
            "jobs_queued": 2,
            "jobs_running": 1,
        },
        "total_queued": 4,
        "total_processing": 2,
    }


def test_throughput_counts_the_last_minute_only(cameras):
    with time_machine.travel(T0, tick=False) as clock:
        make_event(cameras["garage"])
        clock.move_to(T0 + timedelta(seconds=90))
        make_event(cameras["garage"])
        detection_ingest(
            rows=[
                {
                    "camera": cameras["garage"],
                    "object_type": "car",
                    "confidence": 0.9,
                    "detected_at": timezone.now(),
                }
            ]
        )
        assert pipeline_throughput(now=timezone.now()) == {
            "detections_per_minute": 1,
            "events_per_minute": 1,
            "window_seconds": 60,
        }


class Listener:
    """A channel in the system group of the current channel layer."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(SYSTEM_GROUP, self.channel)

    def frames(self, count: int) -> list[dict]:
        """The next `count` frames (a bundle carries several), parsed."""

        async def take():
            frames = []
            while len(frames) < count:
                message = await self.layer.receive(self.channel)
                frames += message.get("bundle") or [message]
            return frames

        return [orjson.loads(m["text"]) for m in async_to_sync(take)()]

    def types(self, count: int) -> list[str]:
        """The event types of the next `count` frames, sorted."""
        # Sorted: channels-redis may hand over messages sent within one millisecond in another order.
        return sorted(frame["type"] for frame in self.frames(count))


@pytest.fixture
def listener():
    """A Listener that leaves the group afterwards (the in-memory layer outlives the test)."""
    listening = Listener()
    yield listening
    async_to_sync(listening.layer.group_discard)(SYSTEM_GROUP, listening.channel)


@pytest.mark.django_db(transaction=True)
def test_each_round_publishes_status_gpu_queue_and_throughput(cameras, listener):
    SystemMonitor()(timezone.now())
    assert listener.types(4) == ROUND


@pytest.mark.django_db(transaction=True)
def test_the_monitors_status_frame_carries_the_hosts_figures(cameras, listener):
    SystemMonitor()(timezone.now())
    status = next(frame for frame in listener.frames(4) if frame["type"] == "system.status")
    assert {"uptime_seconds", "cpu_percent", "memory_percent"} <= set(status["payload"]["host"])


@pytest.fixture
def restartable_layer(settings, restartable_redis):
    server, url = restartable_redis
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": 5, "socket_connect_timeout": 2}]},
        }
    }
    channel_layers.backends.clear()
    yield server
    channel_layers.backends.clear()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_health_changes_are_sent_on_the_edges_only(cameras, restartable_layer):
    monitor = SystemMonitor()
    monitor(timezone.now())
    assert monitor.components["channel_layer"] == "ok"
    restartable_layer.stop()
    monitor(timezone.now())  # unhealthy: this edge cannot travel over the Redis that is down
    assert monitor.components["channel_layer"] != "ok"
    monitor(timezone.now())
    restartable_layer.start()
    channel_layers.backends.clear()
    listener = Listener()
    monitor(timezone.now())
    assert listener.types(5) == sorted([*ROUND, "system.health_changed"])
    # A channel of its own: channels-redis may hand a channel's message over again to a receive
    # on a new event loop (each async_to_sync call here), as the round above came in one message.
    listener = Listener()
    monitor(timezone.now())
    assert listener.types(4) == ROUND
