"""The periodic work of a Lookout deployment, each task on its own interval (SPEC §7)."""

import threading
from datetime import datetime

from django.conf import settings
from django.db import connections

from cameras.services import cameras_mark_silent_offline
from events.job_runner import job_claim_next, job_lease_renew, job_run, jobs_fail_lapsed
from events.pipeline import batches_close_due
from realtime.monitor import SystemMonitor
from realtime.outbox import outbox_prune
from worker.schedule import PeriodicTask


def _watch_cameras(now: datetime) -> None:
    cameras_mark_silent_offline(now=now)


def _prune_outbox(now: datetime) -> None:
    outbox_prune()


class JobSlot:
    """Runs one claimed job at a time in a thread of its own: a long export never delays batch closing.

    Each turn it also renews the lease of the job in hand (the job is alive as long as this worker
    is) and fails the jobs of workers that stopped renewing theirs.
    """

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.thread: threading.Thread | None = None
        self.job = None

    def __call__(self, now: datetime) -> None:
        busy = self.thread is not None and self.thread.is_alive()
        if busy:
            # Before looking for lapsed leases: a turn that came late must not find its own job lapsed.
            job_lease_renew(job=self.job)
        jobs_fail_lapsed(now=now)
        if busy:
            return
        job = self.job = job_claim_next()
        if job is not None:
            self.thread = threading.Thread(target=self._run, args=(job,), name=f"lookout-job-{job.pk}")
            self.thread.start()

    def _run(self, job) -> None:
        try:
            job_run(job=job, stop=self.stop)
        finally:
            connections.close_all()

    def finish(self) -> None:
        """Wait for the job in hand: with `stop` set it ends at its next step, `failed` if unfinished."""
        if self.thread is not None:
            self.thread.join()


def periodic_tasks(stop: threading.Event) -> list[PeriodicTask]:
    """Every task the worker runs, with the intervals from settings; `stop` also interrupts running jobs."""
    jobs = JobSlot(stop)
    return [
        PeriodicTask("job_runner", settings.JOB_RUNNER_INTERVAL, jobs, shared_turn=False, finish=jobs.finish),
        PeriodicTask("batch_close", settings.BATCH_CLOSE_INTERVAL, lambda now: batches_close_due(now=now)),
        PeriodicTask("camera_watchdog", settings.CAMERA_WATCHDOG_INTERVAL, _watch_cameras),
        PeriodicTask("system_monitor", settings.SYSTEM_STATUS_INTERVAL, SystemMonitor()),
        PeriodicTask("outbox_prune", settings.OUTBOX_PRUNE_INTERVAL, _prune_outbox),
    ]
