"""The periodic work of a Lookout deployment, each task on its own interval (SPEC §7)."""

from datetime import datetime

from django.conf import settings

from cameras.services import cameras_mark_silent_offline
from events.pipeline import batches_close_due
from realtime.outbox import outbox_prune
from worker.schedule import PeriodicTask


def _watch_cameras(now: datetime) -> None:
    cameras_mark_silent_offline(now=now)


def _prune_outbox(now: datetime) -> None:
    outbox_prune()


def periodic_tasks() -> list[PeriodicTask]:
    """Every task the worker runs, with the intervals from settings."""
    return [
        PeriodicTask("batch_close", settings.BATCH_CLOSE_INTERVAL, lambda now: batches_close_due(now=now)),
        PeriodicTask("camera_watchdog", settings.CAMERA_WATCHDOG_INTERVAL, _watch_cameras),
        PeriodicTask("outbox_prune", settings.OUTBOX_PRUNE_INTERVAL, _prune_outbox),
    ]
