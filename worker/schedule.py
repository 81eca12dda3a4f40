"""The worker's loop: run each periodic task on its own interval, once per deployment, surviving errors.

Several workers may run by mistake (or one per host). Each turn of a task is a `TaskTurn` row
moved on with a compare-and-set UPDATE (`due_at <= now` → `due_at = now + interval`): of the
workers that are due at the same moment exactly one UPDATE matches, on SQLite and PostgreSQL
alike, so no turn runs twice. The tasks themselves also claim the rows they change (batches,
cameras, jobs), so even a turn run twice would not double a message.
"""

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import close_old_connections, transaction
from django.utils import timezone

from realtime.refusals import OUTAGE_ERRORS, outage
from worker.models import TaskTurn

logger = logging.getLogger(__name__)

# A failing task waits its interval × 2, × 4 … up to this before the next attempt: a database
# that comes back is used again within a minute, and a long outage logs a few lines, not one a second.
RETRY_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class PeriodicTask:
    """A named step and how often it runs (seconds).

    `shared_turn`: one worker of the deployment runs each turn. Off for a step whose rows are its
    claims (the job runner: each idle worker may take a different job). `finish` is called when
    the worker stops, to wait for work the step left running.
    """

    name: str
    interval: float
    step: Callable[[datetime], object]
    shared_turn: bool = True
    finish: Callable[[], None] | None = None


def task_turn_take(*, name: str, interval: float, now: datetime) -> bool:
    """Take the task's turn at `now` if it is due; True for exactly one of several callers."""
    due = TaskTurn.objects.filter(name=name, due_at__lte=now)
    with transaction.atomic():
        if due.update(due_at=now + timedelta(seconds=interval)):
            return True
        if TaskTurn.objects.filter(name=name).exists():
            return False
        # The task's first turn ever: create it due now (of several creators one INSERT counts),
        # then the compare-and-set above decides, as for every later turn.
        TaskTurn.objects.bulk_create([TaskTurn(name=name, due_at=now)], ignore_conflicts=True)
        return bool(due.update(due_at=now + timedelta(seconds=interval)))


class Worker:
    """Runs its tasks until stopped; `tick` is one pass, `run` loops over it."""

    def __init__(self, tasks: list[PeriodicTask]) -> None:
        self.tasks = tasks
        # When this worker next looks at each task (it may then find another worker took the turn).
        self._next: dict[str, datetime] = {}
        self._failures_in_a_row: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.runs: Counter[str] = Counter()

    def tick(self, now: datetime | None = None) -> datetime:
        """Run every task that is due at `now`; returns when the next one is due."""
        now = now or timezone.now()
        for task in self.tasks:
            if self._next.get(task.name, now) > now:
                continue
            self._next[task.name] = now + timedelta(seconds=self._attempt(task, now))
        return min(self._next.values())

    def _attempt(self, task: PeriodicTask, now: datetime) -> float:
        """Run the task if this worker wins its turn; returns the seconds until it looks again."""
        try:
            if not task.shared_turn or task_turn_take(name=task.name, interval=task.interval, now=now):
                task.step(now)
                self.runs[task.name] += 1
        except Exception as error:
            self.failures[task.name] += 1
            failures = self._failures_in_a_row[task.name] = self._failures_in_a_row[task.name] + 1
            delay = min(RETRY_CAP_SECONDS, task.interval * 2**failures)
            # Powers of two only: a long outage logs a few lines, not one per attempt.
            if failures & (failures - 1) == 0:
                # An outage (database, Redis) is outside our code: one line, no traceback.
                is_outage = isinstance(error, OUTAGE_ERRORS)
                logger.error(
                    "worker task %s failed (%d in a row%s); retrying in %.1f s",
                    task.name,
                    failures,
                    f": {outage(error)}" if is_outage else "",
                    delay,
                    exc_info=failures == 1 and not is_outage,
                )
            return delay
        if self._failures_in_a_row.pop(task.name, 0):
            logger.warning("worker task %s works again", task.name)
        return task.interval

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set; each wait ends early when it is."""
        logger.info("worker started: %s", ", ".join(f"{t.name} every {t.interval:g} s" for t in self.tasks))
        while not stop.is_set():
            # A long-lived thread must drop connections the database closed (a restart, an outage).
            close_old_connections()
            next_due = self.tick()
            stop.wait(max(0.0, (next_due - timezone.now()).total_seconds()))
        for task in self.tasks:
            if task.finish is not None:
                task.finish()
        close_old_connections()
        logger.info("worker stopped")
