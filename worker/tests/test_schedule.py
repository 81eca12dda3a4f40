"""The worker runs each task on its own interval, once per deployment, and survives a failing task."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from events.models import Event
from events.services import detection_ingest
from realtime.models import OutboxMessage
from realtime.outbox import outbox_last_sequence
from worker.schedule import PeriodicTask, Worker
from worker.tasks import periodic_tasks

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def recording(name: str, interval: float, runs: list) -> PeriodicTask:
    return PeriodicTask(name, interval, lambda now: runs.append((name, (now - T0).total_seconds())))


def half_seconds(*workers: Worker, until: float) -> None:
    """Tick every worker every half second from T0 to T0 + `until`."""
    for step in range(int(until * 2) + 1):
        for worker in workers:
            worker.tick(T0 + timedelta(seconds=step / 2))


def test_each_task_runs_on_its_own_interval():
    runs: list = []
    worker = Worker([recording("fast", 1, runs), recording("slow", 5, runs)])
    half_seconds(worker, until=10)
    assert [t for name, t in runs if name == "fast"] == [float(s) for s in range(11)]
    assert [t for name, t in runs if name == "slow"] == [0.0, 5.0, 10.0]


def test_two_workers_take_each_turn_once_between_them():
    runs: list = []
    first = Worker([recording("fast", 1, runs), recording("slow", 5, runs)])
    second = Worker([recording("fast", 1, runs), recording("slow", 5, runs)])
    half_seconds(first, second, until=10)
    assert sorted(t for name, t in runs if name == "fast") == [float(s) for s in range(11)]
    assert sorted(t for name, t in runs if name == "slow") == [0.0, 5.0, 10.0]
    assert first.runs["fast"] + second.runs["fast"] == 11


def test_a_failing_task_backs_off_and_the_others_keep_running():
    runs: list = []

    def broken(now):
        runs.append(("broken", (now - T0).total_seconds()))
        raise RuntimeError("database gone")

    worker = Worker([PeriodicTask("broken", 1, broken), recording("fast", 1, runs)])
    half_seconds(worker, until=80)
    # Waits of 2, 4, 8, 16, 32 s, then capped at 60 s.
    assert [t for name, t in runs if name == "broken"] == [0.0, 2.0, 6.0, 14.0, 30.0, 62.0]
    assert worker.failures["broken"] == 6
    assert len([t for name, t in runs if name == "fast"]) == 81


def test_the_worker_closes_due_batches_and_prunes_old_outbox_messages(cameras, settings):
    settings.REALTIME_HISTORY_SECONDS = 3600
    with time_machine.travel(T0, tick=False) as clock:
        detection_ingest(
            rows=[{"camera": cameras["garage"], "object_type": "car", "confidence": 0.9, "detected_at": T0}]
        )
        worker = Worker(periodic_tasks(threading.Event()))
        worker.tick(timezone.now())
        assert not Event.objects.exists()

        clock.move_to(T0 + timedelta(seconds=settings.BATCH_IDLE_SECONDS + 1))
        worker.tick(timezone.now())
        assert Event.objects.get().camera_id == "garage"
        assert OutboxMessage.objects.filter(event_type="event.created").count() == 1

        clock.move_to(T0 + timedelta(seconds=settings.OUTBOX_PRUNE_INTERVAL + 3600))
        last = outbox_last_sequence()
        worker.tick(timezone.now())
        assert not OutboxMessage.objects.filter(id__lte=last).exists()
